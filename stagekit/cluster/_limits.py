"""Per-host download limits that hold across the cluster, not per worker.

Each worker's aiohttp session uses a `GatedConnector`: before it opens (or reuses) a
connection to a host it takes a lease of that host's `distributed.Semaphore` (named
after the run and the host, ``DownloadConfig.per_host`` leases), and gives it back when
the connection is released. So all the workers of a run together keep at most
``per_host`` requests open to one host. A worker that dies loses its leases after the
scheduler's lease timeout (``distributed.scheduler.locks.lease-timeout``).
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp

from stagekit.download import DownloadConfig

__all__ = ["GatedConnector", "HostGate", "gated_session"]


class HostGate:
    """One `distributed.Semaphore` per host for run ``token``, used from any thread.

    ``scheduler`` and ``loop`` are the worker's (taken in a Dask task); the blocking
    acquire and release calls run in a pool of their own, so that waiting for a lease
    never takes the threads the store and the hashing use.
    """

    def __init__(self, token: str, per_host: int, scheduler: Any, loop: Any) -> None:
        self.token = token
        self.per_host = per_host
        self._scheduler = scheduler
        self._loop = loop
        self._semaphores: dict[str, Any] = {}
        self._local: dict[str, asyncio.Semaphore] = {}
        self._lock = threading.Lock()
        # A waiting acquire blocks its thread: releases get threads of their own, and the
        # local semaphore keeps the waiting acquires of one host to ``per_host`` threads.
        self._acquiring = ThreadPoolExecutor(thread_name_prefix="stagekit-gate-acquire")
        self._releasing = ThreadPoolExecutor(max_workers=2,
                                             thread_name_prefix="stagekit-gate-release")

    def _semaphore(self, host: str) -> Any:
        from distributed import Semaphore

        with self._lock:
            semaphore = self._semaphores.get(host)
            if semaphore is None:
                semaphore = Semaphore(max_leases=self.per_host,
                                      name=f"stagekit-{self.token}-{host}",
                                      scheduler_rpc=self._scheduler, loop=self._loop)
                self._semaphores[host] = semaphore
            return semaphore

    async def acquire(self, host: str) -> None:
        """Wait for a lease of ``host`` (call from the loop the connections use)."""
        local = self._local.get(host)
        if local is None:
            local = self._local[host] = asyncio.Semaphore(self.per_host)
        await local.acquire()
        semaphore = self._semaphore(host)
        waiting = asyncio.get_running_loop().run_in_executor(self._acquiring, semaphore.acquire)
        try:
            await asyncio.shield(waiting)
        except BaseException:
            local.release()
            # The thread goes on: a lease it gets after all goes straight back.
            waiting.add_done_callback(lambda f: self._give_back(f, semaphore))
            raise

    def _give_back(self, waited: asyncio.Future[Any], semaphore: Any) -> None:
        if not waited.cancelled() and waited.exception() is None and waited.result():
            self._releasing.submit(semaphore.release)

    def release_soon(self, host: str) -> None:
        """Give a lease of ``host`` back (from a callback in that loop: does not wait)."""
        self._local[host].release()
        self._releasing.submit(self._semaphore(host).release)

    def close(self) -> None:
        self._acquiring.shutdown(wait=False, cancel_futures=True)
        self._releasing.shutdown(wait=False, cancel_futures=False)


class GatedConnector(aiohttp.TCPConnector):
    """A connector that holds a lease of ``gate`` for each connection in use."""

    def __init__(self, gate: HostGate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = gate

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:  # noqa: ASYNC109
        host = f"{req.url.host}:{req.url.port}"
        await self.gate.acquire(host)
        try:
            connection = await super().connect(req, traces, timeout)
        except BaseException:
            self.gate.release_soon(host)
            raise
        connection.add_callback(lambda: self.gate.release_soon(host))
        return connection


def gated_session(config: DownloadConfig, gate: HostGate) -> aiohttp.ClientSession:
    """A session as `Downloader` opens one, with ``gate`` on every connection."""
    return aiohttp.ClientSession(
        connector=GatedConnector(gate, limit=config.total, limit_per_host=config.per_host),
        timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=config.connect_timeout, sock_read=config.read_timeout),
        headers=dict(config.headers),
        auto_decompress=False,  # artifacts are verified as stored, never decoded
    )
