"""The bounded queue between two stages: `asyncio.Queue`'s behaviour, with less per item.

Only what the pipeline uses (no ``join``/``task_done``), each operation one method
call deep: every unit crosses one of these per stage, so its cost is paid per unit
times the number of stages. A batch stage hands its units on as one `Bulk` entry,
which counts as its number of units against ``maxsize``: a channel that has room takes
a whole bulk (it may then hold up to ``maxsize`` plus one bulk).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

__all__ = ["Bulk", "Channel"]


class Bulk(list[Any]):
    """Units handed on together: one channel entry, never empty."""

    __slots__ = ()


def _wake_one(waiters: deque[asyncio.Future[None]]) -> None:
    while waiters:
        waiter = waiters.popleft()
        if not waiter.done():
            waiter.set_result(None)
            return


class Channel:
    """A FIFO of at most ``maxsize`` items; ``get`` and ``put`` wait as asyncio.Queue's do."""

    __slots__ = ("_getters", "_items", "_putters", "_size", "maxsize")

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self._items: deque[Any] = deque()
        self._size = 0  # units waiting: a bulk counts as its length
        self._getters: deque[asyncio.Future[None]] = deque()
        self._putters: deque[asyncio.Future[None]] = deque()

    def qsize(self) -> int:
        """Units waiting (a bulk counts as its length)."""
        return self._size

    def empty(self) -> bool:
        """Whether no item waits."""
        return not self._items

    def full(self) -> bool:
        """Whether a ``put`` would wait."""
        return self._size >= self.maxsize

    def put_nowait(self, item: Any) -> None:
        """Append ``item``; `asyncio.QueueFull` when full."""
        if self._size >= self.maxsize:
            raise asyncio.QueueFull
        self._items.append(item)
        self._size += len(item) if type(item) is Bulk else 1
        if self._getters:
            _wake_one(self._getters)

    def get_nowait(self) -> Any:
        """The oldest item; `asyncio.QueueEmpty` when empty."""
        if not self._items:
            raise asyncio.QueueEmpty
        item = self._items.popleft()
        freed = len(item) if type(item) is Bulk else 1
        self._size -= freed
        putters = self._putters
        while putters and freed:  # a woken putter that finds no room waits again
            _wake_one(putters)
            freed -= 1
        return item

    async def put(self, item: Any) -> None:
        """Append ``item``, waiting while the channel is full."""
        while self._size >= self.maxsize:
            await self._wait(self._putters, full=True)
        self.put_nowait(item)

    async def get(self) -> Any:
        """The oldest item, waiting while the channel is empty."""
        while not self._items:
            await self._wait(self._getters, full=False)
        return self.get_nowait()

    async def _wait(self, waiters: deque[asyncio.Future[None]], *, full: bool) -> None:
        waiter = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            waiter.cancel()
            try:
                waiters.remove(waiter)
            except ValueError:
                pass
            # Woken and then cancelled: pass the wake-up on, as asyncio.Queue does.
            ready = self._size < self.maxsize if full else bool(self._items)
            if ready and not waiter.cancelled():
                _wake_one(waiters)
            raise
