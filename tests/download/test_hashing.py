"""DigestSink: digests across batch boundaries, work off the loop, safe discard."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from download_faults import payload

from stagekit.download.hashing import DigestSink, normalize_algorithm

DATA = payload(100_003, seed=5)


async def test_digests_and_bytes_match_whatever_the_chunking(tmp_path):
    with ThreadPoolExecutor(2) as pool:
        sink = DigestSink(tmp_path, ["sha512", "md5"], pool, batch_size=4096)
        for start in range(0, len(DATA), 777):
            await sink.write(DATA[start : start + 777])
        size, digests = await sink.finish()
    assert size == len(DATA) and sink.path.read_bytes() == DATA
    assert digests == {a: hashlib.new(a, DATA).hexdigest() for a in ("md5", "sha256", "sha512")}


async def test_hashing_and_writing_run_in_a_worker_thread(tmp_path, monkeypatch):
    threads: set[str] = set()
    consume = DigestSink._consume

    def spy(self, chunks):
        threads.add(threading.current_thread().name)
        consume(self, chunks)

    monkeypatch.setattr(DigestSink, "_consume", spy)
    with ThreadPoolExecutor(1, thread_name_prefix="worker") as pool:
        sink = DigestSink(tmp_path, [], pool, batch_size=1000)
        for start in range(0, len(DATA), 1000):
            await sink.write(DATA[start : start + 1000])
        await sink.finish()
    assert threads and all(name.startswith("worker") for name in threads)


async def test_discard_waits_for_the_worker_even_when_cancelled(tmp_path):
    release = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        sink = DigestSink(tmp_path, [], pool, batch_size=10)
        original = sink._consume

        def slow(chunks):
            original(chunks[:1])  # the worker has made the file and is writing it
            release.wait(5)
            original(chunks[1:])

        sink._consume = slow  # type: ignore[method-assign]
        await sink.write(b"x" * 10)
        await sink.write(b"x" * 10)  # a batch of two chunks is now held in the worker
        async with asyncio.timeout(10):
            task = asyncio.create_task(sink.discard())
            await asyncio.sleep(0)
            task.cancel()  # discard must still wait, then report the cancellation
            await asyncio.sleep(0)
            assert not task.done() and sink.path.exists()
            release.set()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert list(tmp_path.iterdir()) == []


def test_algorithm_names_are_normalised_and_checked():
    assert normalize_algorithm("SHA-256") == "sha256"
    with pytest.raises(ValueError, match="unknown digest algorithm 'crc99'"):
        normalize_algorithm("crc99")
