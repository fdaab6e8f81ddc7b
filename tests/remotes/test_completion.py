"""`as_done`: results as they finish, at most ``limit`` at once, nothing left running."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from stagekit.remotes.completion import as_done


async def test_limit_bounds_concurrency_and_reads_the_source_lazily() -> None:
    running = peak = made = 0

    async def job(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        running -= 1
        return i * 10

    def source():
        nonlocal made
        for i in range(20):
            made += 1
            yield i, job(i)

    async with asyncio.timeout(10):
        got = {label: result async for label, result, _error in as_done(source(), limit=3)}
    assert got == {i: i * 10 for i in range(20)}
    assert peak == 3 and made == 20


async def test_an_error_is_raised_and_the_rest_cancelled_and_never_started() -> None:
    started: list[int] = []
    cancelled: list[int] = []
    gate = asyncio.Event()

    async def job(i: int) -> int:
        started.append(i)
        if i == 0:
            raise ValueError("job 0 broke")
        try:
            await gate.wait()
        except asyncio.CancelledError:
            cancelled.append(i)
            raise
        return i

    work = as_done(((i, job(i)) for i in range(10)), (ValueError,), limit=2)
    async with asyncio.timeout(10), contextlib.aclosing(work):
        with pytest.raises(ValueError, match="job 0 broke"):
            async for _ in work:
                pass
    assert started == [0, 1] and cancelled == [1]


async def test_errors_not_reraised_are_yielded_and_a_mapping_of_tasks_works() -> None:
    async def job(i: int) -> int:
        if i == 1:
            raise KeyError(i)
        return i

    tasks = {asyncio.ensure_future(job(i)): f"t{i}" for i in range(3)}
    async with asyncio.timeout(10):
        got = {label: (result, type(error).__name__ if error else None)
               async for label, result, error in as_done(tasks)}
    assert got == {"t0": (0, None), "t1": (None, "KeyError"), "t2": (2, None)}


async def test_stopping_early_cancels_started_tasks_and_closes_unstarted_ones() -> None:
    gate = asyncio.Event()

    async def quick() -> str:
        return "quick"

    async def slow() -> str:
        await gate.wait()
        return "slow"

    slow_task = asyncio.ensure_future(slow())
    unstarted = slow()
    work = as_done({asyncio.ensure_future(quick()): "q", slow_task: "s", unstarted: "u"},
                   limit=2)
    async with asyncio.timeout(10), contextlib.aclosing(work):
        async for label, _result, _error in work:
            assert label == "q"
            break
    assert slow_task.cancelled()
    assert unstarted.cr_frame is None  # closed: never awaited, no warning


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limit"):
        asyncio.run(anext(as_done([], limit=0)))
