"""A server that trickles a byte now and then (each in time for the read timeout) is cut off
by a total deadline per request (issue 13, "no overall deadline"), with a clear error, and
a run that lost its root because of it says so instead of ending "finished" and empty."""

from __future__ import annotations

import asyncio
import time

import pytest

import stagekit
from stagekit.download import DownloadConfig, Downloader
from stagekit.download.auth import BearerAuth
from stagekit.errors import DownloadError
from stagekit.remotes.oci import OCIRemote
from stagekit.storage import Store
from stagekit.testing.hostile import challenge, hostile_server, json_body, trickle
from tests.security.support import explore, statuses

DEADLINE = DownloadConfig(backoff_base=0.01, backoff_max=0.05, read_timeout=5.0,
                          metadata_timeout=1.0, request_timeout=1.5)
SLOW = b'{"tags": ["a", "b", "c", "d", "e", "f", "g", "h"]}'


async def test_trickled_metadata_fails_at_the_deadline(tmp_path):
    async with hostile_server() as evil:
        evil.add("slow.json", trickle(SLOW, interval=0.2))
        started = time.monotonic()
        async with asyncio.timeout(20), Downloader(DEADLINE, temp_dir=tmp_path) as d:
            with pytest.raises(DownloadError) as info:
                await d.get_bytes(evil.url_for("slow.json"))
        took = time.monotonic() - started
    assert "no complete answer within the deadline of 1 s (DownloadConfig.metadata_timeout)" \
        in str(info.value)
    assert evil.url_for("slow.json") in str(info.value)
    assert evil.paths == ["/slow.json"]  # not retried: the next try would trickle too
    assert 0.9 < took < 5


async def test_a_trickled_artifact_fails_at_the_request_deadline(tmp_path):
    async with hostile_server() as evil:
        evil.add("slow.bin", trickle(SLOW, interval=0.2))
        async with asyncio.timeout(20), Downloader(DEADLINE, temp_dir=tmp_path) as d:
            with pytest.raises(DownloadError, match=r"deadline of 1\.5 s \(DownloadConfig"
                                                    r"\.request_timeout\)"):
                await d.fetch(evil.url_for("slow.bin"))
    assert list(tmp_path.iterdir()) == []  # the partial file is gone


async def test_a_trickled_tag_manifest_fails_its_tag_with_the_reason(tmp_path):
    async with hostile_server() as evil:
        evil.add("v2/repo/tags/list", json_body({"tags": ["slow"]}))
        evil.add("v2/repo/manifests/slow", trickle(SLOW, interval=0.2))
        run = await explore(OCIRemote(evil.url, "repo", auth=False),
                            Store(tmp_path / "store"), config=DEADLINE)
    assert statuses(run) == {"oci.tag:repo:slow": "failed"}
    assert "DownloadConfig.metadata_timeout" in dict(run.errors)["oci.tag:repo:slow"]


async def test_a_run_that_lost_its_root_is_not_finished(tmp_path):
    async with hostile_server() as evil:
        evil.add("v2/repo/tags/list", trickle(SLOW, interval=0.2))
        run = stagekit.start(OCIRemote(evil.url, "repo", auth=False),
                             store=Store(tmp_path / "store"), download_config=DEADLINE)
        async with asyncio.timeout(20):
            with pytest.raises(DownloadError, match="deadline"):
                await run
    assert run.status == "failed"
    assert "tags/list" in str(run.error) and "DownloadConfig.metadata_timeout" in str(run.error)


async def test_a_trickled_token_answer_fails_at_the_token_deadline(tmp_path):
    async with hostile_server() as evil:
        evil.add("v2/repo/tags/list", challenge(evil.url_for("token")))
        evil.add("token", trickle(b'{"token": "t"}', interval=0.2))
        auth = BearerAuth(origin=evil.url, timeout=1.0)
        async with asyncio.timeout(20), Downloader(DEADLINE, temp_dir=tmp_path, auth=auth) as d:
            with pytest.raises(DownloadError, match="no answer within 1 s"):
                await d.get_bytes(evil.url_for("v2/repo/tags/list"))
