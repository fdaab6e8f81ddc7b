"""The page tree of the crawl benchmark, and `PageCrawler` finding exactly it in both modes."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

import stagekit
from stagekit.testing import assert_run_matches, serve
from stagekit.testing.crawl import LINK, PageCrawler, make_page_tree, tree_size


def test_tree_has_every_page_linked_once_with_its_digest():
    tree = make_page_tree(fanout=3, depth=3)
    assert tree.pages == tree_size(3, 3) == 40
    linked = {}
    for body in (f.body for f in tree.files.values()):
        for href, sha in LINK.findall(body):
            linked[href.decode().lstrip("/")] = sha.decode()
    # Every page but the root is linked once, with the sha256 of its bytes.
    assert set(linked) == set(tree.files) - {tree.entry_path()}
    assert all(hashlib.sha256(tree.files[p].body).hexdigest() == sha for p, sha in linked.items())
    assert max(tree.expected.depths().values()) == 3
    assert len(tree.expected.edges) == 39


@pytest.mark.parametrize("store_pages", [False, True])
async def test_crawler_finds_the_tree(tmp_path, store_pages):
    tree = make_page_tree(fanout=3, depth=3)
    async with serve(tree) as server:
        crawler = PageCrawler(server.url_for(tree.entry_path()), store_pages=store_pages)
        policy = "immediate" if store_pages else "metadata-only"
        async with asyncio.timeout(30):
            run = await stagekit.explore(crawler, store=tmp_path / "store", policy=policy)
        assert_run_matches(run, tree.expected_for(store_pages), server_url=server.url)
        # One request per page either way: stored pages are parsed from the store.
        assert server.counters.total == 40
        assert all(n == 1 for n in server.counters.by_path.values())
    files = [p for p in (tmp_path / "store").rglob("*") if p.is_file() and
             p.stat().st_size > 700 and p.read_bytes().startswith(b"<!doctype html>")]
    assert len(files) == (40 if store_pages else 0)


async def test_stored_page_with_wrong_digest_fails_its_unit(tmp_path):
    tree = make_page_tree(fanout=2, depth=2)
    leaf = "pages/r-0-1.html"
    tree.files[leaf] = type(tree.files[leaf])(b"tampered", "text/html")
    async with serve(tree) as server:
        crawler = PageCrawler(server.url_for(tree.entry_path()), store_pages=True)
        async with asyncio.timeout(30):
            run = await stagekit.explore(crawler, store=tmp_path / "store")
    assert [key for key, _ in run.errors] == [f"crawl.page:{leaf}"]
    assert "sha256 mismatch" in run.errors[0][1]
    assert len(run.depths()) == 7
