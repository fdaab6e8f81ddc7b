"""Models: safe paths, declared digests, futures of a unit."""

from __future__ import annotations

import asyncio

import pytest

from stagekit.errors import UnsafePathError
from stagekit.models import (
    DeclarativeArtifact,
    DeclarativeContent,
    safe_relative_path,
    unit_key,
)
from tests.graphs import GraphNode


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "non-empty"),
        ("../etc/passwd", "'..' segment"),
        ("a/../../b", "'..' segment"),
        ("/etc/passwd", "absolute"),
        ("C:/windows", "absolute"),
        ("a\x00b", "NUL"),
        ("a\\b", "backslash"),
        ("a//b", "'empty' segment"),
        ("./a", "'.' segment"),
        ("a/", "'empty' segment"),
        ("a/./b", "'.' segment"),
        ("a/..", "'..' segment"),
        ("c:x", "absolute"),
    ],
)
def test_unsafe_relative_paths_are_rejected_with_the_reason(path, reason):
    with pytest.raises(UnsafePathError, match=reason):
        DeclarativeArtifact("http://127.0.0.1/x", path)


def test_safe_relative_paths_pass():
    assert safe_relative_path("pool/main/a/abc_1.0_all.deb") == "pool/main/a/abc_1.0_all.deb"
    assert safe_relative_path("a..b/c") == "a..b/c"


def test_digests_are_normalised_and_checked():
    da = DeclarativeArtifact(
        ["http://127.0.0.1/a", "file:///tmp/a"], "a", digests={"SHA256": "AB" * 32, "md5": "0" * 32}
    )
    assert da.digests == {"sha256": "ab" * 32, "md5": "0" * 32}
    assert da.url == "http://127.0.0.1/a" and len(da.urls) == 2
    with pytest.raises(ValueError, match="not a valid hex digest"):
        DeclarativeArtifact("http://127.0.0.1/a", "a", digests={"sha256": "xyz"})
    # Spelled as kept but one character short or long, or with a non-hex character.
    for bad in ("a" * 63, "a" * 65, "a" * 63 + "g", "a" * 62 + " a"):
        with pytest.raises(ValueError, match="not a valid hex digest"):
            DeclarativeArtifact("http://127.0.0.1/a", "a", digests={"sha256": bad})
    # Whitespace around a digest is dropped, as before it was spelled as kept.
    spaced = DeclarativeArtifact("http://127.0.0.1/a", "a", digests={"sha-1": f" {'F' * 40}\n"})
    assert spaced.digests == {"sha1": "f" * 40}
    with pytest.raises(ValueError, match="unknown digest algorithm"):
        DeclarativeArtifact("http://127.0.0.1/a", "a", digests={"crc99": "00"})
    with pytest.raises(ValueError, match="must be http"):
        DeclarativeArtifact("ftp://127.0.0.1/a", "a")
    with pytest.raises(ValueError, match="non-negative"):
        DeclarativeArtifact("http://127.0.0.1/a", "a", size=-1)


def test_unit_key_calls_str_on_parts_that_are_not_plain_strings():
    class Shade(str):
        def __str__(self) -> str:
            return "Shade.DARK"

    assert unit_key("k", ("a", "b")) == "k:a:b"
    assert unit_key("k", ("a", 1, None)) == "k:a:1:None"
    assert unit_key("k", (Shade("dark"),)) == "k:Shade.DARK"  # str(), as for any part
    assert unit_key("k", iter(["a", "b"])) == "k:a:b"
    assert unit_key("k", ()) == "k:"


def test_a_unit_cannot_declare_the_same_path_twice():
    da = [DeclarativeArtifact("http://127.0.0.1/a", "a"), DeclarativeArtifact("http://h/b", "a")]
    with pytest.raises(ValueError, match="same relative_path twice"):
        DeclarativeContent(GraphNode("n"), da)


async def test_future_is_created_once_and_resolve_is_idempotent():
    dc = DeclarativeContent(GraphNode("n"))
    assert dc.does_batch
    future = dc.get_or_create_future()
    assert dc.get_or_create_future() is future
    assert not dc.does_batch
    dc.resolve()
    dc.resolve()
    assert (await dc.resolution()) is dc.content
    assert dc.key == "test.node:n"


async def test_failed_unit_raises_from_resolution():
    dc = DeclarativeContent(GraphNode("n"))
    dc.get_or_create_future()
    dc.fail(RuntimeError("it broke"))
    dc.resolve()  # no effect once failed
    with pytest.raises(RuntimeError, match="it broke"):
        async with asyncio.timeout(5):
            await dc.resolution()
    assert dc.status == "failed"


def test_content_must_be_a_content():
    with pytest.raises(TypeError, match=r"stagekit\.Content"):
        DeclarativeContent("not content")  # type: ignore[arg-type]
