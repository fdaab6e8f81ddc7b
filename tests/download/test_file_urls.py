"""file:// URLs go through the same hashing, checks, mirrors and cleanup as HTTP."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from download_faults import payload

from stagekit.errors import DigestMismatchError, DownloadError

BODY = payload(700_000, seed=2)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "src" / "a file.bin"
    path.parent.mkdir()
    path.write_bytes(BODY)
    return path


async def test_file_url_is_copied_and_verified(source, downloader, temp_dir):
    sha1 = hashlib.sha1(BODY).hexdigest()
    async with asyncio.timeout(10), downloader() as d:
        result = await d.fetch(
            source.as_uri(), expected_digests={"sha1": sha1}, expected_size=len(BODY)
        )
    assert result.temp_path.parent == temp_dir and result.temp_path.read_bytes() == BODY
    assert result.digests == {"sha256": hashlib.sha256(BODY).hexdigest(), "sha1": sha1}
    assert (result.status, result.tries, result.url) == (None, 1, source.as_uri())
    assert source.read_bytes() == BODY  # copied, not moved


async def test_missing_file_fails_at_once(tmp_path, downloader, delays, temp_dir):
    url = (tmp_path / "nope.bin").as_uri()
    async with asyncio.timeout(10), downloader() as d:
        with pytest.raises(DownloadError, match="no such file") as info:
            await d.fetch(url)
    assert info.value.tries == 1 and delays == [] and "not retried" in str(info.value)
    assert list(temp_dir.iterdir()) == []


async def test_file_digest_mismatch_removes_the_copy(source, downloader, temp_dir):
    async with asyncio.timeout(10), downloader(digest_retries=0) as d:
        with pytest.raises(DigestMismatchError) as info:
            await d.fetch(source.as_uri(), expected_digests={"md5": "0" * 32})
    assert info.value.actual == hashlib.md5(BODY).hexdigest()
    assert list(temp_dir.iterdir()) == []


async def test_missing_file_mirror_falls_back_to_http(tmp_path, server, downloader):
    server.files["a"] = BODY
    async with asyncio.timeout(10), downloader() as d:
        result = await d.fetch([(tmp_path / "nope").as_uri(), server.url("/x/a")])
    assert result.url == server.url("/x/a") and result.tries == 2


async def test_get_bytes_reads_a_file_url_with_a_size_guard(source, downloader):
    async with asyncio.timeout(10), downloader() as d:
        data, headers = await d.get_bytes(source.as_uri())
        assert data == BODY and dict(headers) == {}
        with pytest.raises(DownloadError, match="larger than"):
            await d.get_bytes(source.as_uri(), max_size=1000)
