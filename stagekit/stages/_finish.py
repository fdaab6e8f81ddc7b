"""Worker-thread calls that a cancellation must not leave unreported."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["to_thread_to_the_end"]

T = TypeVar("T")


async def to_thread_to_the_end(fn: Callable[..., T], *args: Any) -> tuple[T, bool]:
    """Run ``fn(*args)`` in a worker thread; ``(result, cancelled)``.

    A thread cannot be stopped: a store commit or a catalog write goes on after the
    awaiting task is cancelled. So a cancellation waits for the thread to end and is
    reported as ``cancelled=True`` (the caller records what reached the store or the
    catalog, then raises `asyncio.CancelledError`) instead of leaving it unaccounted.
    """
    task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    cancelled = False
    while True:
        try:
            return await asyncio.shield(task), cancelled
        except asyncio.CancelledError:
            if task.cancelled():
                raise  # the call itself never ran
            cancelled = True
            if not task.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait({task})
