"""`settled`: outcomes of futures as each finishes, listening on shared ones without a relay.

A POM's children wait on recipes shared with every other POM naming them. `as_done` of
`stagekit.remotes.completion` cancels what is left when its reader stops, so shared work
had to be wrapped in one relay future per edge, then in a task per relay and a queue per
POM. Here a waiter only adds a callback to each future and removes it when it stops;
only the futures it owns are cancelled.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from typing import Any, TypeVar

__all__ = ["settled"]

L = TypeVar("L")


async def settled(
    waits: Sequence[tuple[asyncio.Future[Any], L]],
    owned: Collection[asyncio.Future[Any]] = (),
) -> AsyncIterator[tuple[L, Any, BaseException | None]]:
    """``(label, result, error)`` per ``(future, label)`` pair as each future finishes.

    A future may appear in several pairs. A cancelled future raises `CancelledError`
    here (the run is ending). On exit (done, failed or closed early) the callbacks are
    removed, and the futures of ``owned`` still running are cancelled and awaited;
    the others run on for whoever else waits on them.
    """
    loop = asyncio.get_running_loop()
    ready: deque[int] = deque()
    wake: asyncio.Future[None] | None = None

    def notifier(index: int) -> Callable[[asyncio.Future[Any]], None]:
        def done(_future: asyncio.Future[Any]) -> None:
            ready.append(index)
            if wake is not None and not wake.done():
                wake.set_result(None)
        return done

    callbacks = []
    for index, (future, _label) in enumerate(waits):
        callback = notifier(index)
        future.add_done_callback(callback)
        callbacks.append(callback)
    left = len(waits)
    try:
        while left:
            if not ready:
                wake = loop.create_future()
                await wake
                wake = None
                continue
            future, label = waits[ready.popleft()]
            left -= 1
            if future.cancelled():
                raise asyncio.CancelledError
            error = future.exception()
            yield label, None if error is not None else future.result(), error
    finally:
        for (future, _label), callback in zip(waits, callbacks, strict=True):
            future.remove_done_callback(callback)
        pending = [future for future in owned if not future.done()]
        for future in pending:
            future.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
