"""Downloader.fetch(in_memory=N): small bodies verified in memory, written later."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from download_faults import FaultServer, payload

from stagekit.errors import DigestMismatchError, DownloadError

SMALL = payload(5_000, seed=7)
SMALL_SHA256 = hashlib.sha256(SMALL).hexdigest()
LARGE = payload(50_000, seed=8)


@pytest.fixture(autouse=True)
def _files(server: FaultServer) -> None:
    server.files["small"] = SMALL
    server.files["large"] = LARGE


async def test_a_small_body_is_verified_in_memory_and_written_on_demand(
    server, downloader, temp_dir: Path
):
    md5 = hashlib.md5(SMALL).hexdigest()
    async with asyncio.timeout(10), downloader() as d:
        result = await d.fetch(server.url("/x/small"), in_memory=10_000,
                               expected_digests={"sha256": SMALL_SHA256, "MD5": md5},
                               expected_size=len(SMALL))
        made = await asyncio.to_thread(lambda: list(temp_dir.iterdir()))
        assert made == []  # no file made on the loop
        assert result.data == SMALL and result.size == len(SMALL)
        assert result.digests == {"md5": md5, "sha256": SMALL_SHA256}
        assert result.headers["Content-Length"] == str(len(SMALL))
        path = result.ensure_file()
    assert path.parent == temp_dir and path.read_bytes() == SMALL and result.data is None
    assert result.ensure_file() == path  # written once


async def test_a_body_over_the_limit_or_without_a_length_goes_to_a_file(server, downloader):
    async with asyncio.timeout(10), downloader() as d:
        large = await d.fetch(server.url("/x/large"), in_memory=10_000)
        chunked = await d.fetch(server.url("/x/small?mode=chunked"), in_memory=10_000)
    assert large.data is None and large.temp_path.read_bytes() == LARGE
    assert chunked.data is None and chunked.temp_path.read_bytes() == SMALL


async def test_a_corrupt_small_body_is_refused_after_one_more_try(server, downloader, temp_dir):
    path = "/x/small?mode=corrupt"
    async with asyncio.timeout(10), downloader() as d:
        with pytest.raises(DigestMismatchError, match="sha256 mismatch"):
            await d.fetch(server.url(path), in_memory=10_000,
                          expected_digests={"sha256": SMALL_SHA256})
    assert server.hits[path] == 2 and list(temp_dir.iterdir()) == []


async def test_a_truncated_small_body_is_retried_then_fails(server, downloader, delays):
    path = "/x/small?mode=truncate"
    async with asyncio.timeout(10), downloader(tries=2) as d:
        with pytest.raises(DownloadError, match="after 2 tries"):
            await d.fetch(server.url(path), in_memory=10_000)
    assert server.hits[path] == 2 and len(delays) == 1
