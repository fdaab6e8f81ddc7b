"""Per-host download limits that hold across the cluster, not per worker.

Each worker's aiohttp session uses a `GatedConnector`: before it opens (or reuses) a
connection to a host it takes a lease of that host's `distributed.Semaphore` (named
after the run and the host, ``DownloadConfig.per_host`` leases), and gives it back when
the connection is released. So all the workers of a run together keep at most
``per_host`` requests open to one host. A worker that dies loses its leases after the
scheduler's lease timeout (``distributed.scheduler.locks.lease-timeout``).

A lease costs two round trips to the scheduler (and a thread hop each way), more than
the request it guards when requests are small. So a lease given back by a connection
is kept a little while (``linger``) for the worker's next request to that host, and
goes back to the scheduler once it has gone unused that long or has been held for
``hold`` seconds in all, so that other workers waiting for the host get their turn.
"""

from __future__ import annotations

import asyncio
import threading
import time
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

    def __init__(self, token: str, per_host: int, scheduler: Any, loop: Any, *,
                 linger: float = 0.05, hold: float = 0.5) -> None:
        self.token = token
        self.per_host = per_host
        self.linger = linger
        self.hold = hold
        #: Per host, the leases held and not in use: when each was taken and given back.
        self._spare: dict[str, list[tuple[float, float]]] = {}
        #: Per host, when each lease in use was taken (oldest first).
        self._taken: dict[str, list[float]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
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
        spare = self._spare.get(host)
        if spare:  # a lease this worker holds already: no round trip
            self._taken.setdefault(host, []).append(spare.pop()[0])
            return
        semaphore = self._semaphore(host)
        waiting = asyncio.get_running_loop().run_in_executor(self._acquiring, semaphore.acquire)
        try:
            await asyncio.shield(waiting)
        except BaseException:
            local.release()
            # The thread goes on: a lease it gets after all goes straight back.
            waiting.add_done_callback(lambda f: self._give_back(f, semaphore))
            raise
        self._taken.setdefault(host, []).append(time.monotonic())

    def _give_back(self, waited: asyncio.Future[Any], semaphore: Any) -> None:
        if not waited.cancelled() and waited.exception() is None and waited.result():
            self._release(semaphore)

    def _release(self, semaphore: Any) -> None:
        try:
            self._releasing.submit(semaphore.release)
        except RuntimeError:  # closed: the run is over; its semaphore times the lease out
            pass

    def release_soon(self, host: str) -> None:
        """Give a lease of ``host`` back (from a callback in that loop: does not wait):
        kept for a next request unless it was held ``hold`` seconds already."""
        taken = self._taken[host].pop(0)  # leases are alike: the oldest goes first
        now = time.monotonic()
        if now - taken >= self.hold:
            self._release(self._semaphore(host))
        else:
            self._spare.setdefault(host, []).append((taken, now))
            if host not in self._timers:
                self._timers[host] = asyncio.get_running_loop().call_later(
                    self.linger, self._linger_over, host)
        self._local[host].release()

    def _linger_over(self, host: str) -> None:
        """Give back the leases of ``host`` that no request took for ``linger`` seconds."""
        del self._timers[host]
        spare = self._spare.get(host)
        if not spare:
            return
        now = time.monotonic()
        semaphore = self._semaphore(host)
        kept = []
        for lease in spare:
            if now - lease[1] >= self.linger * 0.9:
                self._release(semaphore)
            else:
                kept.append(lease)
        spare[:] = kept
        if kept:
            self._timers[host] = asyncio.get_running_loop().call_later(
                self.linger, self._linger_over, host)

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for host, spare in self._spare.items():
            semaphore = self._semaphore(host)
            for _ in spare:
                self._release(semaphore)
            spare.clear()
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
