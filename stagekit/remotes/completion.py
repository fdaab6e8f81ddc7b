"""`as_done`: results of many tasks as each finishes, in time linear in their number.

``asyncio.wait(pending, FIRST_COMPLETED)`` in a loop costs O(pending) per completion (it
adds and removes a callback on every pending task), so 50,000 tasks cost billions of steps;
a POM with 50,000 dependencies made that real. Here each task reports itself once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar

__all__ = ["as_done", "relay", "retrieve_exception"]

L = TypeVar("L")
T = TypeVar("T")
F = TypeVar("F", bound="asyncio.Future[Any]")


def retrieve_exception(task: asyncio.Future[Any]) -> None:
    """A done-callback for a task whose error reaches its awaiters another way: it only
    keeps asyncio from logging "exception was never retrieved"."""
    if not task.cancelled():
        task.exception()


def relay(task: asyncio.Future[T]) -> asyncio.Future[T]:
    """A future with ``task``'s outcome. Cancelling it (as `as_done` does on exit) leaves
    a shared ``task`` running, as `asyncio.shield` would, without a coroutine per waiter."""
    outer: asyncio.Future[T] = asyncio.get_running_loop().create_future()

    def copy(done: asyncio.Future[T]) -> None:
        if outer.done():
            return
        if done.cancelled():
            outer.cancel()
        elif (error := done.exception()) is not None:
            outer.set_exception(error)
        else:
            outer.set_result(done.result())

    task.add_done_callback(copy)
    return outer


async def as_done(
    tasks: Mapping[F, L], reraise: tuple[type[BaseException], ...] = ()
) -> AsyncIterator[tuple[L, Any, BaseException | None]]:
    """``(label, result, error)`` per task as it finishes; cancels the rest on exit.

    An error of one of the ``reraise`` types is raised here instead of yielded.
    """
    finished: asyncio.Queue[F] = asyncio.Queue()
    for task in tasks:
        task.add_done_callback(finished.put_nowait)
    left = len(tasks)
    try:
        while left:
            task = await finished.get()
            left -= 1
            if task.cancelled():
                raise asyncio.CancelledError
            error = task.exception()
            if error is not None and isinstance(error, reraise):
                raise error
            yield tasks[task], None if error is not None else task.result(), error
    finally:
        pending = [task for task in tasks if not task.done()]
        for task in pending:
            task.remove_done_callback(finished.put_nowait)
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
