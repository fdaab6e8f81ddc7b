"""The pipeline core: queues, batching, failures, units nobody resolves."""

from __future__ import annotations

import asyncio

import pytest

from stagekit.errors import PipelineError, UnitNotResolvedError
from stagekit.models import DeclarativeContent
from stagekit.pipeline import EndStage, Stage, create_pipeline
from stagekit.stages import ResolveContentFutures
from tests.graphs import GraphNode

TIMEOUT = 10


def make(n: int, prefix: str = "c") -> list[DeclarativeContent]:
    return [DeclarativeContent(GraphNode(f"{prefix}{i}")) for i in range(1, n + 1)]


class Producer(Stage):
    def __init__(self, dcs):
        self.dcs = dcs

    async def run(self):
        for dc in self.dcs:
            await self.put(dc)


class Batcher(Stage):
    def __init__(self, minsize: int, log: list | None = None, max_wait: float | None = None):
        self.minsize = minsize
        self.max_wait = max_wait
        self.batches_seen: list[list[str]] = []
        self.log = log

    async def run(self):
        async for batch in self.batches(self.minsize, max_wait=self.max_wait):
            names = [dc.content.name for dc in batch]
            self.batches_seen.append(names)
            if self.log is not None:
                self.log.append(("batch", names))
            for dc in batch:
                await self.put(dc)


class Collector(Stage):
    def __init__(self):
        self.seen: list[str] = []

    async def run(self):
        async for dc in self.items():
            self.seen.append(dc.content.name)
            await self.put(dc)


def _stages(position: str, dcs, batcher):
    collector = Collector()
    middle = {
        "first": [batcher, Stage(), Stage()],
        "middle": [Stage(), batcher, Stage()],
        "last": [Stage(), Stage(), batcher],
    }[position]
    return [Producer(dcs), *middle, collector], collector


@pytest.mark.parametrize("position", ["first", "middle", "last"])
@pytest.mark.parametrize("minsize", [1, 2, 3, 4])
async def test_batches_keep_order_and_minimum_size(position, minsize):
    for count in range(10):
        for maxsize in range(1, max(count, 1) + 1):
            dcs = make(count)
            batcher = Batcher(minsize)
            stages, collector = _stages(position, dcs, batcher)
            async with asyncio.timeout(TIMEOUT):
                await create_pipeline(stages, maxsize=maxsize)
            names = [dc.content.name for dc in dcs]
            where = f"count={count} minsize={minsize} maxsize={maxsize}"
            assert collector.seen == names, where
            assert [n for b in batcher.batches_seen for n in b] == names, where
            remaining = count
            for batch in batcher.batches_seen:
                assert batch, f"empty batch, {where}"
                assert len(batch) >= min(minsize, remaining), where
                remaining -= len(batch)


async def test_batch_is_released_when_first_stage_awaits_a_queued_unit():
    c1, c2, c3, c4 = make(4)
    log: list = []

    class First(Stage):
        async def run(self):
            for dc in (c1, c2, c3):
                await self.put(dc)
            unit = await c2.resolution()
            log.append(("resolved", unit.name))
            await self.put(c4)

    async with asyncio.timeout(TIMEOUT):
        await create_pipeline([First(), Batcher(4, log), ResolveContentFutures()], maxsize=4)
    assert log == [("batch", ["c1", "c2", "c3"]), ("resolved", "c2"), ("batch", ["c4"])]


async def test_batch_thaws_when_future_is_requested_for_a_unit_it_holds():
    c1, c2, c3, c4 = make(4)
    marker = make(1, prefix="x")[0]
    log: list = []

    class First(Stage):
        async def run(self):
            for dc in (c1, c2, c3, marker):
                await self.put(dc)
            # maxsize=1: the marker is queued only once c3 left the queue, so c2 is in
            # the batcher's batch now, without a future.
            log.append(("c2 held in batch", c2._thaw_event is not None))
            unit = await c2.resolution()
            log.append(("resolved", unit.name))
            await self.put(c4)

    async with asyncio.timeout(TIMEOUT):
        await create_pipeline([First(), Batcher(5, log), ResolveContentFutures()], maxsize=1)
    # Released below minsize 5 by the thaw, with what was queued by then (the marker).
    assert log == [
        ("c2 held in batch", True),
        ("batch", ["c1", "c2", "c3", "x1"]),
        ("resolved", "c2"),
        ("batch", ["c4"]),
    ]


async def test_batch_with_a_futured_unit_is_released_at_once():
    dcs = make(3)
    log: list = []

    class First(Stage):
        async def run(self):
            dcs[0].get_or_create_future()
            for dc in dcs[:2]:
                await self.put(dc)
            log.append(("resolved", (await dcs[0].resolution()).name))
            await self.put(dcs[2])

    async with asyncio.timeout(TIMEOUT):
        await create_pipeline([First(), Batcher(100, log), ResolveContentFutures()], maxsize=10)
    assert log[0][0] == "batch" and log[0][1][0] == "c1"
    assert ("resolved", "c1") in log
    assert [n for kind, v in log if kind == "batch" for n in v] == ["c1", "c2", "c3"]


class RaiseAt(Stage):
    def __init__(self, n: int):
        self.n = n

    async def run(self):
        async for dc in self.items():
            if self.items_in == self.n:
                raise ValueError(f"boom at {dc.content.name}")
            await self.put(dc)


async def test_stage_error_cancels_all_fails_futures_and_is_reraised(no_leftover_tasks):
    dcs = make(1000)
    futures = [dc.get_or_create_future() for dc in dcs[:10]]

    class First(Stage):
        async def run(self):
            for dc in dcs:
                await self.put(dc)
            await asyncio.Event().wait()  # would wait forever if not cancelled

    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(ValueError, match="boom at c500"):
        async with asyncio.timeout(TIMEOUT):
            await create_pipeline([First(), Stage(), RaiseAt(500), Stage()], maxsize=5)
    assert loop.time() - start < 1.0
    assert all(f.done() for f in futures)
    no_leftover_tasks()


async def test_pending_futures_get_an_error_when_a_stage_raises():
    dcs = make(3)
    seen: list[BaseException] = []

    class First(Stage):
        async def run(self):
            for dc in dcs:
                dc.get_or_create_future()
                await self.put(dc)
            try:
                await dcs[2].resolution()
            except BaseException as exc:
                seen.append(exc)
                raise

    with pytest.raises(ValueError, match="boom at c2"):
        async with asyncio.timeout(TIMEOUT):
            await create_pipeline([First(), RaiseAt(2), ResolveContentFutures()], maxsize=5)
    assert dcs[0].future.result().name == "c1"
    for dc in dcs[1:]:
        assert isinstance(dc.future.exception(), PipelineError)
        assert "boom at c2" in str(dc.future.exception())
    assert len(seen) == 1


async def test_stage_holding_units_while_a_future_is_awaited_is_a_stall_not_a_hang():
    dcs = make(3)

    class First(Stage):
        async def run(self):
            for dc in dcs:
                await self.put(dc)
            await dcs[2].resolution()

    class Hoard(Stage):
        async def run(self):
            hoard = [dc async for dc in self.items()]
            for dc in hoard:
                await self.put(dc)

    with pytest.raises(UnitNotResolvedError, match="c3 was dropped by stage Hoard"):
        async with asyncio.timeout(TIMEOUT):
            await create_pipeline([First(), Hoard(), ResolveContentFutures()], maxsize=5)


class DropEvery(Stage):
    def __init__(self, n: int):
        self.n = n

    async def run(self):
        async for dc in self.items():
            if self.items_in % self.n == 0:
                continue
            await self.put(dc)


async def test_unit_dropped_by_a_stage_fails_its_awaiting_first_stage(no_leftover_tasks):
    dcs = make(9)
    outcomes: dict[str, str] = {}

    class First(Stage):
        async def run(self):
            for dc in dcs:
                dc.get_or_create_future()
                await self.put(dc)
            for dc in dcs:
                try:
                    await dc.resolution()
                    outcomes[dc.content.name] = "ok"
                except UnitNotResolvedError as exc:
                    outcomes[dc.content.name] = str(exc)

    async with asyncio.timeout(TIMEOUT):
        await create_pipeline([First(), DropEvery(3), ResolveContentFutures()], maxsize=2)
    dropped = {f"c{i}" for i in (3, 6, 9)}
    assert {n for n, o in outcomes.items() if o != "ok"} == dropped
    assert "dropped by stage DropEvery" in outcomes["c3"]
    no_leftover_tasks()


async def test_unit_reaching_the_end_unresolved_gets_an_error():
    dc = make(1)[0]

    class First(Stage):
        async def run(self):
            await self.put(dc)
            await dc.resolution()

    with pytest.raises(UnitNotResolvedError, match="end of the pipeline"):
        async with asyncio.timeout(TIMEOUT):
            await create_pipeline([First(), Stage(), EndStage()])
    # the error is on the future, and the first stage re-raised it


async def test_cancelling_the_pipeline_fails_pending_futures(no_leftover_tasks):
    dcs = make(2)
    started = asyncio.Event()

    class First(Stage):
        async def run(self):
            for dc in dcs:
                dc.get_or_create_future()
                await self.put(dc)
            started.set()
            await dcs[0].resolution()

    class Stuck(Stage):
        async def run(self):
            async for _ in self.items():
                await asyncio.Event().wait()

        @property
        def busy(self):
            return True

    task = asyncio.create_task(create_pipeline([First(), Stuck()]))
    async with asyncio.timeout(TIMEOUT):
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert all(dc.future.done() for dc in dcs)
    assert isinstance(dcs[1].future.exception(), PipelineError)
    no_leftover_tasks()


async def test_put_rejects_what_is_not_a_unit():
    class Bad(Stage):
        async def run(self):
            await self.put("not a unit")

    with pytest.raises(TypeError, match="Bad put"):
        async with asyncio.timeout(TIMEOUT):
            await create_pipeline([Bad()])


async def test_stage_returning_early_does_not_block_upstream():
    dcs = make(50)

    class TakeTwo(Stage):
        async def run(self):
            async for dc in self.items():
                await self.put(dc)
                if self.items_in == 2:
                    return

    collector = Collector()
    async with asyncio.timeout(TIMEOUT):
        await create_pipeline([Producer(dcs), TakeTwo(), collector], maxsize=1)
    assert collector.seen == ["c1", "c2"]


async def test_stage_counters_add_up_after_the_run():
    dcs = make(25)
    stages = [Producer(dcs), Stage(), Batcher(4), Collector()]
    async with asyncio.timeout(TIMEOUT):
        await create_pipeline(stages, maxsize=3)
    assert [s.items_out for s in stages] == [25, 25, 25, 25]
    assert [s.items_in for s in stages[1:]] == [25, 25, 25]


async def test_partial_batch_is_released_after_max_wait():
    c1, c2, c3 = make(3)
    got_c2 = asyncio.Event()

    class First(Stage):
        async def run(self):
            await self.put(c1)
            await self.put(c2)
            await got_c2.wait()  # only the max_wait release can let c2 through
            await self.put(c3)

    class Watch(Stage):
        async def run(self):
            async for dc in self.items():
                if dc is c2:
                    got_c2.set()
                await self.put(dc)

    batcher = Batcher(10, max_wait=0.05)
    async with asyncio.timeout(TIMEOUT):
        await create_pipeline([First(), batcher, Watch()])
    assert batcher.batches_seen == [["c1", "c2"], ["c3"]]


class BulkBatcher(Batcher):
    """A batch stage handing each batch on as one queue entry (as the default stages do)."""

    async def run(self):
        async for batch in self.batches(self.minsize, max_wait=self.max_wait):
            self.batches_seen.append([dc.content.name for dc in batch])
            await self._put_batch(batch)


class TakeAvailable(Stage):
    def __init__(self):
        self.lists: list[list[str]] = []

    async def run(self):
        async for units in self.available():
            self.lists.append([dc.content.name for dc in units])
            await self._put_batch(units)


async def test_a_batch_larger_than_the_queue_passes_whole_and_in_order():
    dcs = make(60)
    first, second, taker, collector = BulkBatcher(20), BulkBatcher(7), TakeAvailable(), Collector()
    stages = [Producer(dcs), first, second, taker, collector]
    async with asyncio.timeout(TIMEOUT):
        await create_pipeline(stages, maxsize=2)
    assert collector.seen == [f"c{i}" for i in range(1, 61)]
    # Bulks are cut to the next stage's minsize, the rest taken in the next batch.
    assert first.batches_seen == [[f"c{i}" for i in range(j, j + 20)] for j in (1, 21, 41)]
    assert [len(batch) for batch in second.batches_seen] == [7] * 8 + [4]
    assert sum(map(len, taker.lists)) == 60 and max(map(len, taker.lists)) >= 7
    assert [s.items_out for s in stages] == [60] * 5
    assert [s.items_in for s in stages[1:]] == [60] * 4


async def test_an_awaited_unit_inside_a_bulk_releases_the_next_batch():
    """A bulk holding a futured unit, taken by a batch stage whose minsize it does not
    reach, is released at once (Pulp #4296): no wait for max_wait or more units."""
    dcs = make(3)

    class Awaiting(Stage):
        async def run(self):
            future = dcs[1].get_or_create_future()
            for dc in dcs:
                await self.put(dc)
            await dcs[1].resolution()
            assert future.done()

    stages = [Awaiting(), BulkBatcher(3), BulkBatcher(1000, max_wait=None), ResolveContentFutures()]
    async with asyncio.timeout(TIMEOUT):
        await create_pipeline(stages)
    assert stages[2].batches_seen == [["c1", "c2", "c3"]]


async def test_units_waiting_in_a_stage_backlog_are_not_taken_for_a_stall():
    """A stage that takes one unit of a bulk and then awaits that unit's future keeps
    the rest in its backlog: the stall check must not fail them meanwhile."""
    dcs = make(4)

    class Source(Stage):
        async def run(self):
            futures = [dc.get_or_create_future() for dc in dcs]
            for dc in dcs:
                await self.put(dc)
            await asyncio.gather(*(dc.resolution() for dc in dcs))
            assert all(f.done() and f.exception() is None for f in futures)

    class OneAtATime(Stage):
        async def run(self):
            while (dc := await self.next_item()) is not None:
                await self.put(dc)
                await dc.resolution()  # waiting (idle), the rest of the bulk in the backlog

    stages = [Source(), BulkBatcher(4, max_wait=None), OneAtATime(), ResolveContentFutures()]
    async with asyncio.timeout(TIMEOUT):
        await create_pipeline(stages)
    assert all(dc.future.result() is dc.content for dc in dcs)
