from __future__ import annotations

import pytest

from stagekit.urls import has_credentials, redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pw@repo.test/a/b.pom", "https://repo.test/a/b.pom"),
        ("https://token@repo.test:8443/x", "https://repo.test:8443/x"),
        ("http://u:p@[::1]:8080/v2/", "http://[::1]:8080/v2/"),
        ("https://repo.test/x?token=abc&page=2", "https://repo.test/x?token=REDACTED&page=2"),
        (
            "https://b.test/o?X-Amz-Signature=ff&X-Amz-Credential=AK&x-id=GetObject",
            "https://b.test/o?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&x-id=GetObject",
        ),
        ("https://r.test/p?access_token=t#frag", "https://r.test/p?access_token=REDACTED#frag"),
        ("https://repo.test/plain?page=2&flag", "https://repo.test/plain?page=2&flag"),
        ("file:///srv/repo/a.deb", "file:///srv/repo/a.deb"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert not has_credentials(expected)


def test_has_credentials() -> None:
    assert has_credentials("https://u:p@h.test/")
    assert has_credentials("https://h.test/?api-key=1")
    assert not has_credentials("https://h.test/?token=")
    assert not has_credentials("https://h.test/keys/list?page=1")


def test_redact_text_redacts_every_url_in_a_message() -> None:
    text = "GET https://a:b@one.test/x failed, then 'https://two.test/y?sig=zz' timed out"
    assert redact_text(text) == (
        "GET https://one.test/x failed, then 'https://two.test/y?sig=REDACTED' timed out"
    )
    assert redact_text("no url here") == "no url here"


def test_redaction_never_raises_on_junk() -> None:
    assert redact_url("http://[broken@host/") == "http://host/"
    assert "secret" not in redact_url("ftp://me:secret@[::1/")


BASES = ["http://127.0.0.1:8080/pages/r.html", "HTTPS://Repo.test/a/b/", "http://u:p%2F@h.test/x",
         "http://[::1]:8080/v2/", "http://h.test:80/q?x=1#f", "http://h.test/p@q/x"]
PATHS = ["/pages/a.html", "/a b/c?x=1#frag", "/a/./b", "/a/../../b", "//other.test/x", "/a//b",
         "/a\tb", "/a@b", "/x:y@evil.test/", "/%2e%2e/x", "/", "/a/.", "/a\\b"]


@pytest.mark.parametrize("base", BASES)
def test_handed_absolute_paths_join_as_urljoin_does(base: str) -> None:
    """The shortcut for a plain absolute path gives what the general rule gives."""
    from urllib.parse import urljoin

    from stagekit.errors import UnsafeURLError
    from stagekit.urls import handed_url, origin, split_userinfo

    bare, userinfo = split_userinfo(base)
    for path in PATHS:
        joined = urljoin(bare, path)
        try:
            got = handed_url(path, base=base, what="link")
        except UnsafeURLError:
            assert origin(joined) != origin(bare) or "@" in joined.split("://", 1)[1]
            continue
        want = joined if userinfo is None else joined.replace("://", f"://{userinfo}@", 1)
        assert got == want, (base, path)
