"""Downloader.fetch over HTTP: retries, faults, digests, mirrors and cleanup."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from download_faults import FaultServer, payload

from stagekit.download.hashing import DigestSink
from stagekit.errors import DigestMismatchError, DownloadError, HTTPStatusError

BODY = payload(300_000)
SHA256 = hashlib.sha256(BODY).hexdigest()


def temp_files(temp_dir: Path) -> list[Path]:
    return sorted(temp_dir.iterdir())


@pytest.fixture(autouse=True)
def _files(server: FaultServer) -> None:
    server.files["a"] = BODY


async def test_success_returns_verified_temp_file_with_all_digests(server, downloader, temp_dir):
    async with asyncio.timeout(10), downloader() as d:
        result = await d.fetch(
            server.url("/x/a"),
            expected_digests={"sha256": SHA256, "md5": hashlib.md5(BODY).hexdigest()},
            expected_size=len(BODY),
        )
    assert result.temp_path.parent == temp_dir
    assert result.temp_path.read_bytes() == BODY
    assert result.size == len(BODY)
    assert result.digests == {"sha256": SHA256, "md5": hashlib.md5(BODY).hexdigest()}
    assert (result.tries, result.status, result.url) == (1, 200, server.url("/x/a"))
    assert result.headers["Docker-Content-Digest"] == "sha256:x"
    assert result.headers["Content-Length"] == str(len(BODY))


async def test_sha256_is_computed_even_when_not_expected(server, downloader):
    async with asyncio.timeout(10), downloader() as d:
        result = await d.fetch(
            [server.url("/x/a")], expected_digests={"SHA-512": hashlib.sha512(BODY).hexdigest()}
        )
    assert result.digests == {"sha256": SHA256, "sha512": hashlib.sha512(BODY).hexdigest()}


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_server_errors_are_retried_until_success(server, downloader, delays, status):
    path = f"/x/a?mode=status&status={status}&fail=2"
    async with asyncio.timeout(10), downloader() as d:
        result = await d.fetch(server.url(path), expected_digests={"sha256": SHA256})
    assert server.hits[path] == 3
    assert result.tries == 3
    assert len(delays) == 2 and all(0 <= x <= 1.0 for x in delays)


async def test_server_errors_give_up_after_the_configured_tries(server, downloader, temp_dir):
    path = "/x/a?mode=status&status=503"
    async with asyncio.timeout(10), downloader(tries=4) as d:
        with pytest.raises(HTTPStatusError) as info:
            await d.fetch(server.url(path))
    assert server.hits[path] == 4
    err = info.value
    assert (err.status, err.tries, err.url) == (503, 4, server.url(path))
    assert "HTTP 503" in str(err) and server.url(path) in str(err) and "after 4 tries" in str(err)
    assert temp_files(temp_dir) == []


@pytest.mark.parametrize("status", [404, 403, 401, 400])
async def test_other_4xx_fail_at_once(server, downloader, delays, temp_dir, status):
    path = f"/x/a?mode=status&status={status}"
    async with asyncio.timeout(10), downloader() as d:
        with pytest.raises(HTTPStatusError) as info:
            await d.fetch(server.url(path))
    assert server.hits[path] == 1 and delays == []
    assert info.value.status == status and "not retried" in str(info.value)
    assert temp_files(temp_dir) == []


async def test_missing_file_is_one_404_request(server, downloader):
    async with asyncio.timeout(10), downloader() as d:
        with pytest.raises(HTTPStatusError, match="HTTP 404"):
            await d.fetch(server.url("/x/nope"))
    assert server.hits["/x/nope"] == 1


async def test_retry_after_seconds_is_honoured(server, downloader, delays):
    path = "/x/a?mode=retry-after&after=7&fail=1"
    async with asyncio.timeout(10), downloader() as d:
        await d.fetch(server.url(path))
    assert delays == [7.0]


async def test_retry_after_http_date_is_honoured(server, downloader, delays):
    path = "/x/a?mode=retry-date&after=6&fail=1"
    async with asyncio.timeout(10), downloader() as d:
        await d.fetch(server.url(path))
    # The date has a one-second resolution.
    assert len(delays) == 1 and 4.0 <= delays[0] <= 6.0


async def test_retry_after_is_capped_by_backoff_max(server, downloader, delays):
    path = "/x/a?mode=retry-after&after=3600&fail=1"
    async with asyncio.timeout(10), downloader(backoff_max=2.5) as d:
        await d.fetch(server.url(path))
    assert delays == [2.5]


async def test_real_retry_after_spacing_between_tries(server, temp_dir):
    from stagekit.download import DownloadConfig, Downloader

    path = "/x/a?mode=retry-after&after=0.2&fail=1"
    async with asyncio.timeout(10), Downloader(DownloadConfig(), temp_dir=temp_dir) as d:
        await d.fetch(server.url(path))
    first, second = server.times[path]
    assert second - first >= 0.2


@pytest.mark.parametrize("mode", ["reset", "truncate"])
async def test_broken_bodies_are_retried(server, downloader, temp_dir, mode):
    path = f"/x/a?mode={mode}&fail=2"
    async with asyncio.timeout(10), downloader() as d:
        result = await d.fetch(server.url(path), expected_digests={"sha256": SHA256})
    assert server.hits[path] == 3 and result.tries == 3
    assert result.temp_path.read_bytes() == BODY
    assert temp_files(temp_dir) == [result.temp_path]


async def test_broken_bodies_fail_after_all_tries(server, downloader, temp_dir):
    path = "/x/a?mode=truncate"
    async with asyncio.timeout(10), downloader(tries=3) as d:
        with pytest.raises(DownloadError) as info:
            await d.fetch(server.url(path))
    assert server.hits[path] == 3 and info.value.tries == 3
    assert "after 3 tries" in str(info.value) and server.url(path) in str(info.value)
    assert temp_files(temp_dir) == []


@pytest.mark.parametrize("mode", ["stall", "stall-body"])
async def test_stalled_server_hits_the_read_timeout(server, downloader, temp_dir, mode):
    path = f"/x/a?mode={mode}"
    async with asyncio.timeout(10), downloader(read_timeout=0.2, tries=2) as d:
        with pytest.raises(DownloadError, match="timed out") as info:
            await d.fetch(server.url(path))
    assert server.hits[path] == 2 and info.value.tries == 2
    assert temp_files(temp_dir) == []


async def test_connection_refused_is_retried_then_fails(downloader, delays, temp_dir):
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago, now closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x/a"
    async with asyncio.timeout(10), downloader(tries=3) as d:
        with pytest.raises(DownloadError, match="cannot connect") as info:
            await d.fetch(url)
    assert info.value.tries == 3 and len(delays) == 2
    assert temp_files(temp_dir) == []


async def test_connect_timeout_when_the_server_never_accepts(downloader, temp_dir):
    import socket

    # A listener with a full accept queue: the kernel drops further SYNs, connect hangs.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(4)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
        try:
            async with asyncio.timeout(10), downloader(connect_timeout=0.2, tries=2) as d:
                with pytest.raises(DownloadError, match="timed out") as info:
                    await d.fetch(f"http://127.0.0.1:{port}/x/a")
        finally:
            for filler in fillers:
                filler.close()
    assert info.value.tries == 2
    assert temp_files(temp_dir) == []


async def test_digest_mismatch_is_retried_once_then_named_in_the_error(
    server, downloader, temp_dir
):
    path = "/x/a?mode=corrupt"
    actual = hashlib.sha256(bytes([BODY[0] ^ 0xFF]) + BODY[1:]).hexdigest()
    async with asyncio.timeout(10), downloader() as d:
        with pytest.raises(DigestMismatchError) as info:
            await d.fetch(server.url(path), expected_digests={"sha256": SHA256})
    err = info.value
    assert server.hits[path] == 2
    assert (err.algorithm, err.expected, err.actual, err.tries) == ("sha256", SHA256, actual, 2)
    for part in (server.url(path), SHA256, actual, "after 2 tries"):
        assert part in str(err)
    assert temp_files(temp_dir) == []


async def test_digest_mismatch_without_digest_retries_is_not_retried(server, downloader):
    path = "/x/a?mode=corrupt"
    async with asyncio.timeout(10), downloader(digest_retries=0) as d:
        with pytest.raises(DigestMismatchError, match="not retried"):
            await d.fetch(server.url(path), expected_digests={"sha256": SHA256})
    assert server.hits[path] == 1


async def test_one_corrupt_download_then_a_good_one_succeeds(server, downloader):
    path = "/x/a?mode=corrupt&fail=1"
    async with asyncio.timeout(10), downloader() as d:
        result = await d.fetch(server.url(path), expected_digests={"sha256": SHA256})
    assert result.tries == 2 and result.digests["sha256"] == SHA256


async def test_size_mismatch_is_a_digest_mismatch_named_size(server, downloader, temp_dir):
    async with asyncio.timeout(10), downloader(digest_retries=0) as d:
        with pytest.raises(DigestMismatchError) as info:
            await d.fetch(server.url("/x/a"), expected_size=len(BODY) + 1)
    assert (info.value.algorithm, info.value.actual) == ("size", str(len(BODY)))
    assert temp_files(temp_dir) == []


async def test_mirrors_are_tried_in_turn(server, other_server, downloader):
    other_server.files["a"] = BODY
    first, second = server.url("/x/missing"), other_server.url("/x/a")
    async with asyncio.timeout(10), downloader() as d:
        result = await d.fetch([first, second], expected_digests={"sha256": SHA256})
    assert result.url == second and result.tries == 2
    assert server.hits["/x/missing"] == 1 and other_server.hits["/x/a"] == 1


async def test_a_down_mirror_is_retried_then_the_next_is_used(server, downloader, delays):
    down = server.url("/x/a?mode=status&status=503")
    async with asyncio.timeout(10), downloader(tries=2) as d:
        result = await d.fetch([down, server.url("/x/a")])
    assert result.tries == 3 and len(delays) == 1


async def test_all_mirrors_failing_names_every_mirror(server, other_server, downloader, temp_dir):
    first, second = server.url("/x/gone"), other_server.url("/x/gone")
    async with asyncio.timeout(10), downloader() as d:
        with pytest.raises(HTTPStatusError) as info:
            await d.fetch([first, second])
    assert first in str(info.value) and second in str(info.value)
    assert "all 2 mirrors failed" in str(info.value) and info.value.tries == 2
    assert temp_files(temp_dir) == []


async def test_cancelling_mid_body_removes_the_temp_file(
    server, downloader, temp_dir, monkeypatch
):
    server.files["big"] = payload(4 * 1024 * 1024, seed=1)
    written = asyncio.Event()
    loop = asyncio.get_running_loop()
    consume = DigestSink._consume

    def consume_and_tell(self, chunks):  # runs in a worker thread
        consume(self, chunks)
        loop.call_soon_threadsafe(written.set)

    monkeypatch.setattr(DigestSink, "_consume", consume_and_tell)
    async with asyncio.timeout(10), downloader() as d:
        task = asyncio.create_task(d.fetch(server.url("/x/big?mode=stall-body")))
        await server.body_started.wait()
        await written.wait()  # the first batch is in the temporary file
        assert len(temp_files(temp_dir)) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert temp_files(temp_dir) == []


async def test_no_unclosed_session_after_exit(server, downloader):
    async with asyncio.timeout(10), downloader() as d:
        session = d.session
        await d.fetch(server.url("/x/a"))
    assert session.closed


async def test_a_given_session_is_used_and_left_open(server, temp_dir):
    import aiohttp

    from stagekit.download import Downloader

    async with asyncio.timeout(10), aiohttp.ClientSession() as session:
        async with Downloader(temp_dir=temp_dir, session=session) as d:
            result = await d.fetch(server.url("/x/a"))
        assert not session.closed
    assert result.digests["sha256"] == SHA256


async def test_requests_say_who_we_are_and_ask_for_raw_bytes(server, downloader):
    async with asyncio.timeout(10), downloader() as d:
        await d.fetch(server.url("/x/a"), headers={"X-Extra": "1"})
    assert server.last_headers["User-Agent"].startswith("stagekit/")
    assert server.last_headers["Accept-Encoding"] == "identity"
    assert server.last_headers["X-Extra"] == "1"
