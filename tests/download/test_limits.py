"""Connection limits (per host and total) and get_bytes for small metadata."""

from __future__ import annotations

import asyncio

import pytest
from download_faults import FaultServer, Gauge, payload, serve

from stagekit.errors import DownloadError, HTTPStatusError

BODY = payload(10_000, seed=3)


async def test_per_host_limit_caps_requests_in_flight(server, downloader):
    server.files["a"] = BODY
    async with asyncio.timeout(20), downloader(per_host=2) as d:
        results = await asyncio.gather(
            *(d.fetch(server.url(f"/x/a?mode=slow&n={i}")) for i in range(8))
        )
    assert len(results) == 8 and sum(server.hits.values()) == 8
    assert server.gauge.peak == 2


async def test_total_limit_caps_requests_over_all_hosts(downloader):
    gauge = Gauge()
    async with (
        asyncio.timeout(20),
        serve(FaultServer(gauge=gauge)) as one,
        serve(FaultServer(gauge=gauge)) as two,
        downloader(per_host=10, total=3) as d,
    ):
        one.files["a"] = two.files["a"] = BODY
        urls = [s.url(f"/x/a?mode=slow&n={i}") for i in range(5) for s in (one, two)]
        await asyncio.gather(*(d.fetch(u) for u in urls))
    assert sum(one.hits.values()) + sum(two.hits.values()) == 10
    assert gauge.peak == 3


async def test_get_bytes_returns_body_and_headers_after_retries(server, downloader, delays):
    server.files["m.json"] = b'{"ok": true}'
    async with asyncio.timeout(10), downloader() as d:
        data, headers = await d.get_bytes(server.url("/x/m.json?mode=status&status=502&fail=1"))
    assert data == b'{"ok": true}'
    assert headers["docker-content-digest"] == "sha256:x"  # case-insensitive
    assert len(delays) == 1


async def test_get_bytes_refuses_a_body_over_max_size(server, downloader, delays):
    server.files["big"] = payload(5000)
    async with asyncio.timeout(10), downloader() as d:
        with pytest.raises(DownloadError, match="larger than the limit of 100 bytes") as info:
            await d.get_bytes(server.url("/x/big"), max_size=100)
        # Without Content-Length the guard trips while streaming.
        with pytest.raises(DownloadError, match="larger than the limit of 100 bytes"):
            await d.get_bytes(server.url("/x/big?mode=chunked"), max_size=100)
    assert info.value.tries == 1 and delays == []
    assert server.hits["/x/big?mode=chunked"] == 1


async def test_get_bytes_reads_a_chunked_body(server, downloader):
    server.files["big"] = payload(5000)
    async with asyncio.timeout(10), downloader() as d:
        data, _ = await d.get_bytes(server.url("/x/big?mode=chunked"))
    assert data == payload(5000)


async def test_get_bytes_404_is_not_retried(server, downloader):
    async with asyncio.timeout(10), downloader() as d:
        with pytest.raises(HTTPStatusError, match="not retried"):
            await d.get_bytes(server.url("/x/none"))
    assert server.hits["/x/none"] == 1
