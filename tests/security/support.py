"""Shared pieces of the security suite: running a remote under a timeout, peak memory."""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType

import psutil

import stagekit
from stagekit.download import DownloadConfig
from stagekit.storage import Store

TIMEOUT = 60
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.05, read_timeout=5.0)


async def explore(remote: object, store: Store, *, config: DownloadConfig = FAST,
                  **options: object) -> stagekit.Run:
    """Explore under a timeout with fast retries."""
    async with asyncio.timeout(TIMEOUT):
        return await stagekit.explore(remote, store=store, download_config=config,  # type: ignore[arg-type]
                                      **options)


def statuses(run: stagekit.Run) -> dict[str, str]:
    """Unit key -> status."""
    frame = run.to_dataframe()
    return dict(zip(frame["key"], frame["status"].astype(str), strict=True))


def errors_text(run: stagekit.Run) -> str:
    """Every unit error the run recorded, one per line."""
    return "\n".join(f"{key}: {error}" for key, error in run.errors)


class PeakRSS:
    """The peak resident memory of this process above where it was on entry (bytes).

    A thread samples every 5 ms; use as ``with PeakRSS() as peak: ...`` then ``peak.grew``.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self._process = psutil.Process()
        self._stop = threading.Event()
        self.start = self.peak = 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self.start = self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def grew(self) -> int:
        """Bytes the peak was above the start."""
        return self.peak - self.start


class LoopLag:
    """The longest the event loop went without running a 10 ms ticker (seconds)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            self.worst = max(self.worst, now - last - 0.01)
            last = now

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
