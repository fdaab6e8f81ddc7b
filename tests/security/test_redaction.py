"""A password with an unencoded ``/``, ``#`` or ``?`` (issue 13): it still authenticates,
and never reaches the catalog, the tables, the logs or ``stagekit runs`` in clear."""

from __future__ import annotations

import base64
import hashlib
import logging

import pytest

from stagekit.cli import main
from stagekit.remotes.file import FileRemote
from stagekit.storage import Store
from stagekit.testing.hostile import hostile_server, respond
from stagekit.urls import has_credentials, redact_text, redact_url, split_credentials
from tests.faults.support import catalog_dump
from tests.security.support import explore, statuses

USER = "carol"
PASSWORDS = ["pa/ss-W0RD", "pa#ss-W0RD", "pa?ss-W0RD", "p/a#s?s-W0RD"]


def fragments(password: str) -> list[str]:
    """Pieces of the password a parser could leave behind (split at / # ?)."""
    pieces = [password, base64.b64encode(f"{USER}:{password}".encode()).decode()]
    for sep in "/#?":
        pieces += [p for p in password.split(sep) if len(p) >= 4 and p != password]
    return pieces


@pytest.mark.parametrize("password", PASSWORDS)
def test_redaction_drops_the_whole_userinfo(password):
    url = f"https://{USER}:{password}@repo.test:8443/a/b?x=1"
    for text in (redact_url(url), redact_text(f"GET {url} failed")):
        for piece in fragments(password):
            assert piece not in text
        assert "repo.test:8443" in text
    assert has_credentials(url)
    bare, basic = split_credentials(url)
    assert bare == "https://repo.test:8443/a/b?x=1"
    assert basic == "Basic " + base64.b64encode(f"{USER}:{password}".encode()).decode()


@pytest.mark.parametrize("password", PASSWORDS)
async def test_such_a_password_authenticates_and_never_leaks(tmp_path, caplog, capsys,
                                                             password):
    caplog.set_level(logging.DEBUG)
    body = b"hello"
    manifest = f"a.bin,{hashlib.sha256(body).hexdigest()},{len(body)}\nmissing.bin," \
               f"{'0' * 64},3\n".encode()
    store_path = tmp_path / "store"
    async with hostile_server() as server:
        server.add("files/PULP_MANIFEST", respond(manifest))
        server.add("files/a.bin", respond(body))
        url = server.url_for("files/PULP_MANIFEST").replace(
            "http://", f"http://{USER}:{password}@")
        run = await explore(FileRemote(url), Store(store_path))
    expected = "Basic " + base64.b64encode(f"{USER}:{password}".encode()).decode()
    assert server.authorizations == [expected] * 3  # manifest, a.bin, missing.bin
    assert statuses(run) == {"file:a.bin": "downloaded", "file:missing.bin": "failed"}
    assert main(["runs", "--store", str(store_path)]) == 0
    recorded = {
        "catalog": catalog_dump(store_path),
        "units": run.to_dataframe().to_csv(),
        "artifacts": run.artifacts_dataframe().to_csv(),
        "errors": repr(run.errors),
        "logs": caplog.text,
        "stagekit runs": capsys.readouterr().out,
    }
    assert "127.0.0.1" in recorded["stagekit runs"] + recorded["catalog"]
    for where, text in recorded.items():
        for piece in fragments(password):
            assert piece not in text, f"{piece!r} leaked into {where}"
