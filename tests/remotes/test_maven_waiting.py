"""`settled`: outcomes as futures finish; shared futures run on, owned ones are cancelled."""

from __future__ import annotations

import asyncio

import pytest

from stagekit.errors import MetadataError
from stagekit.remotes.maven.waiting import settled


async def test_outcomes_come_in_completion_order_with_errors_and_repeated_futures() -> None:
    loop = asyncio.get_running_loop()
    first, second, bad = loop.create_future(), loop.create_future(), loop.create_future()
    waits = [(second, "b"), (first, "a"), (bad, "x"), (first, "a-again")]
    got: list[tuple[str, object, str | None]] = []

    async def read() -> None:
        async for label, result, error in settled(waits):
            got.append((label, result, None if error is None else str(error)))

    async with asyncio.timeout(10):
        reader = asyncio.create_task(read())
        first.set_result(1)
        await asyncio.sleep(0)  # its callbacks run: its outcomes are queued first
        bad.set_exception(MetadataError("broken"))
        second.set_result(2)
        await reader
    assert got[:2] == [("a", 1, None), ("a-again", 1, None)]
    assert sorted(got[2:]) == [("b", 2, None), ("x", None, "broken")]
    assert not first._callbacks and not second._callbacks  # type: ignore[attr-defined]


async def test_leaving_early_cancels_owned_futures_and_leaves_shared_ones_running() -> None:
    loop = asyncio.get_running_loop()
    shared = loop.create_future()
    owned = asyncio.ensure_future(asyncio.sleep(3600))
    done = loop.create_future()
    done.set_result("ready")
    waits = [(done, "done"), (shared, "shared"), (owned, "owned")]
    async with asyncio.timeout(10):
        reader = settled(waits, [owned])
        assert await anext(reader) == ("done", "ready", None)
        await reader.aclose()
    assert owned.cancelled()
    assert not shared.done() and not shared._callbacks  # type: ignore[attr-defined]
    shared.set_result("still wanted")
    assert shared.result() == "still wanted"


async def test_a_cancelled_future_ends_the_wait_with_cancelled_error() -> None:
    loop = asyncio.get_running_loop()
    gone = loop.create_future()
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(10):
            async for _ in settled([(gone, "gone")]):
                pass
