"""`as_done`: results of many awaitables as each finishes, bounded, in linear time.

``asyncio.wait(pending, FIRST_COMPLETED)`` in a loop costs O(pending) per completion (it
adds and removes a callback on every pending task), so 50,000 tasks cost billions of steps;
a POM with 50,000 dependencies made that real. Here each task reports itself once, and
with ``limit`` the work is started lazily, at most that many at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

__all__ = ["as_done", "relay", "retrieve_exception"]

L = TypeVar("L")
A = TypeVar("A", bound=Awaitable[Any])
T = TypeVar("T")


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
    work: Mapping[A, L] | Iterable[tuple[L, A]],
    reraise: tuple[type[BaseException], ...] = (),
    *,
    limit: int | None = None,
) -> AsyncGenerator[tuple[L, Any, BaseException | None], None]:
    """``(label, result, error)`` per awaitable as it finishes; cancels the rest on exit.

    ``work`` maps awaitables (tasks or coroutines) to labels, or is an iterable of
    ``(label, awaitable)`` pairs, read lazily: pass a generator to make coroutines only
    when there is room. ``limit`` bounds how many run at once (None: all); a task passed
    in already runs, so bound the work by passing coroutines. An error of one of the
    ``reraise`` types is raised here instead of yielded.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    source: Iterator[tuple[L, A]] = (
        ((label, aw) for aw, label in work.items()) if isinstance(work, Mapping) else iter(work)
    )
    finished: asyncio.Queue[asyncio.Future[Any]] = asyncio.Queue()
    labels: dict[asyncio.Future[Any], L] = {}  # started and not yet reported
    exhausted = False
    try:
        while True:
            while not exhausted and (limit is None or len(labels) < limit):
                item = next(source, None)
                if item is None:
                    exhausted = True
                    break
                label, awaitable = item
                started = asyncio.ensure_future(awaitable)
                labels[started] = label
                started.add_done_callback(finished.put_nowait)
            if not labels:
                return
            done = await finished.get()
            label = labels.pop(done)
            if done.cancelled():
                raise asyncio.CancelledError
            error = done.exception()
            if error is not None and isinstance(error, reraise):
                raise error
            yield label, None if error is not None else done.result(), error
    finally:
        for future in labels:
            future.remove_done_callback(finished.put_nowait)
        pending = [future for future in labels if not future.done()]
        if isinstance(work, Mapping):  # never started: cancel tasks, close coroutines
            for _label, awaitable in source:
                if isinstance(awaitable, asyncio.Future):
                    pending.append(awaitable)
                elif hasattr(awaitable, "close"):
                    awaitable.close()
        else:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # a generator: it makes no more coroutines
        for future in pending:
            future.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
