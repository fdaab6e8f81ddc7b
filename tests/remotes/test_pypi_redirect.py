"""A project page reached through a redirect: its relative links resolve against where it
was served from (PEP 503), not against the URL that was asked for."""

from __future__ import annotations

import asyncio

import pytest

import stagekit
from stagekit.download import DownloadConfig
from stagekit.remotes.pypi import PyPIRemote
from stagekit.testing import serve
from stagekit.testing.pypi import PyPIRepoBuilder
from stagekit.testing.repo import StaticFile

FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.05, read_timeout=5.0, tries=2)
R = "pypi.release:"


def _moved_repo(formats: str):
    """``lib``'s page lives at ``files/lib/`` with links relative to it, and
    ``simple/lib/`` redirects there; against ``simple/lib/`` the links would 404."""
    b = PyPIRepoBuilder(formats=formats)  # type: ignore[arg-type]
    b.release("app", "1.0", ["lib"])
    b.release("lib", "1.0", ["leaf"])
    b.release("leaf", "1.0")
    b.root("app")
    repo = b.build()
    page = repo.files.pop("simple/lib/")
    variants = [page, *page.variants]
    moved = [StaticFile(v.body.replace(b"../../packages/lib/", b""), v.content_type)
             for v in variants]
    repo.files["files/lib/"] = StaticFile(moved[0].body, moved[0].content_type,
                                          variants=tuple(moved[1:]))
    for path in [p for p in repo.files if p.startswith("packages/lib/")]:
        repo.files["files/lib/" + path.rsplit("/", 1)[1]] = repo.files.pop(path)
    repo.redirects["simple/lib/"] = "files/lib/"
    return repo


@pytest.mark.parametrize("formats", ["html", "json"])
async def test_relative_links_resolve_against_the_redirected_page(formats, tmp_path):
    repo = _moved_repo(formats)
    async with serve(repo) as server:
        remote = PyPIRemote(server.url_for("simple/"), repo.roots)
        async with asyncio.timeout(60):
            run = await stagekit.explore(remote, store=tmp_path / "store",
                                         policy="immediate", download_config=FAST)
        requested = dict(server.counters.by_path)
    assert run.errors == []
    assert {(p, c) for p, c in run.graph.edges()} == {
        (R + "app:1.0", R + "lib:1.0"), (R + "lib:1.0", R + "leaf:1.0")}
    files = run.artifacts_dataframe()
    lib = files[files["unit_key"] == R + "lib:1.0"]
    assert len(lib) == 3 and set(lib["status"]) == {"downloaded"}  # .metadata, wheel, sdist
    assert requested["simple/lib/"] == 1 and requested["files/lib/"] == 1
    assert requested["files/lib/lib-1.0-py3-none-any.whl.metadata"] == 1
    assert not [p for p in requested if p.startswith("simple/lib/") and p != "simple/lib/"]


async def test_get_page_reports_the_final_url_and_get_bytes_is_unchanged(tmp_path):
    repo = _moved_repo("json")
    async with serve(repo) as server:
        from stagekit.download import Downloader

        url, moved = server.url_for("simple/lib/"), server.url_for("files/lib/")
        async with asyncio.timeout(30), Downloader(FAST, temp_dir=tmp_path) as d:
            page = await d.get_page(url)
            body, headers = await d.get_bytes(url)
            direct = await d.get_page(moved)
    assert page.url == moved and page.body == body
    assert page.content_type == headers["Content-Type"] == "application/vnd.pypi.simple.v1+json"
    assert direct.url == moved
