"""Stages joined by bounded queues, and the machinery that keeps them from hanging.

A `Stage` reads units with `Stage.items` or `Stage.batches` and passes them on with
`Stage.put`. `create_pipeline` runs the stages as tasks and returns when the last unit
has left the last stage. Two things are never allowed to hang:

* a batch holding a unit whose future is awaited is released at once (Pulp #4296);
* a futured unit that no stage will ever resolve (dropped, or stuck past the end) gets
  `UnitNotResolvedError` as soon as the pipeline is *quiescent*: every queue empty and
  every stage waiting for input (or, for the first stage, waiting for futures).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, NoReturn

from stagekit._channel import Bulk, Channel
from stagekit._gc import relaxed_gc
from stagekit.errors import PipelineError, UnitNotResolvedError
from stagekit.events import EventBus
from stagekit.models import DeclarativeContent
from stagekit.registry import FutureRegistry, _registry_var, _waiter_var, current_registry

__all__ = ["EndStage", "FutureRegistry", "Stage", "create_pipeline", "current_registry"]

log = logging.getLogger(__name__)

DEFAULT_MAXSIZE = 100

_END: Any = object()
_EXPIRED: Any = object()
#: How long a partial batch waits for more units before it is released anyway (seconds).
DEFAULT_MAX_WAIT = 0.5
_NO_EVENTS = EventBus()

def _not_resolved(reason: str) -> Any:
    def make(dc: DeclarativeContent) -> UnitNotResolvedError:
        where = f" by stage {dc.owner}" if dc.owner else ""
        return UnitNotResolvedError(f"unit {dc.key} was {reason}{where} without being resolved")

    return make



def _gather(item: Any, units: list[DeclarativeContent]) -> bool:
    """Add a channel's ``item`` (a unit or a `Bulk` of them) to ``units``; True at the end."""
    if item is _END:
        return True
    if type(item) is Bulk:
        units.extend(item)
    else:
        units.append(item)
    return False

class Stage:
    """One step of a pipeline: subclass it and implement ``async def run(self)``.

    Inside ``run``: ``async for dc in self.items()``, ``async for batch in
    self.batches(minsize)`` or ``async for units in self.available()``, and ``await
    self.put(dc)``. A stage that keeps units in tasks of its own while it waits for
    input must report it through `busy`.
    """

    #: The stage's name in errors and progress: its class name unless a subclass (or an
    #: instance) sets it.
    name: str = "Stage"
    _in_q: Channel | None = None
    _out_q: Channel | None = None
    _pipeline: _Pipeline | None = None
    _idle = False
    _waiting = 0
    _input_done = False
    _sent_end = False
    _thaw: asyncio.Event | None = None
    # Units taken from the input queue in one bulk and not yet handed to `run`.
    _backlog: deque[DeclarativeContent] = deque()
    items_in = 0

    @property
    def items_out(self) -> int:
        """Units this stage has passed on (what the next stage took, plus what waits)."""
        pipeline = self._pipeline
        if pipeline is None or self._out_q is None:
            return 0
        following = pipeline.stages[pipeline.stages.index(self) + 1]
        end_waiting = self._sent_end and not following._input_done
        return (following.items_in + len(following._backlog) + self._out_q.qsize()
                - end_waiting)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__

    def _connect(
        self,
        pipeline: _Pipeline,
        in_q: Channel | None,
        out_q: Channel | None,
    ) -> None:
        """Join this stage to ``pipeline`` between two queues (called by the pipeline only)."""
        self._pipeline = pipeline
        self._in_q = in_q
        self._out_q = out_q
        self._idle = False
        self._waiting = 0
        self._input_done = self._sent_end = False
        self._thaw = None
        self._backlog = deque()
        self.items_in = 0

    @property
    def events(self) -> EventBus:
        """The pipeline's event bus (one without subscribers outside a pipeline)."""
        return self._pipeline.events if self._pipeline is not None else _NO_EVENTS

    @property
    def busy(self) -> bool:
        """True while the stage holds units in work of its own; override if you do."""
        return False

    def is_idle(self) -> bool:
        """Waiting for input (or for futures) and holding nothing in flight."""
        if self._thaw is not None and self._thaw.is_set():
            return False  # about to release a batch
        return (self._idle or self._waiting > 0) and not self.busy

    def cleanup(self) -> None:
        """Called once every stage has ended, whatever the outcome (remove temp files)."""

    async def run(self) -> None:
        """The stage's work; the default passes every unit through."""
        async for dc in self.items():
            await self.put(dc)

    async def _get(self) -> Any:
        if self._backlog:
            return self._backlog.popleft()
        queue = self._in_q
        assert queue is not None, f"stage {self.name} has no input queue"
        try:
            return queue.get_nowait()
        except asyncio.QueueEmpty:
            pass
        self._idle = True
        pipeline = self._pipeline
        # With no future pending there is nothing a stall check could fail.
        if pipeline is not None and pipeline.registry.pending:
            pipeline.check_stall()
        try:
            return await queue.get()
        finally:
            self._idle = False

    async def items(self) -> AsyncIterator[DeclarativeContent]:
        """Yield the units of the input queue, one at a time, until the stream ends."""
        if self._input_done:
            return
        queue = self._in_q
        assert queue is not None, f"stage {self.name} has no input queue"
        name = self.name
        count = self.items_in
        pipeline = self._pipeline
        pending = pipeline.registry.pending if pipeline is not None else ()
        backlog = self._backlog
        item: Any  # a unit, a `Bulk` of units, or the end of the stream
        while True:
            # The hot path of every pipeline: `_accept` and `_get` inlined, so neither a
            # waiting item nor a blocking get costs a coroutine frame of ours.
            if backlog:
                item = backlog.popleft()
            elif queue.qsize():
                item = queue.get_nowait()
            else:
                self._idle = True
                if pending:
                    pipeline.check_stall()  # type: ignore[union-attr]
                try:
                    item = await queue.get()
                finally:
                    self._idle = False
            if type(item) is Bulk:
                backlog.extend(item)
                continue
            if item is _END:
                self._input_done = True
                return
            item.owner = name
            count += 1
            self.items_in = count
            yield item

    async def available(self) -> AsyncIterator[list[DeclarativeContent]]:
        """Yield lists of the units queued, until the stream ends: everything waiting
        at once, else the next unit (or bulk of units) to arrive.

        For stages that handle each unit at once and pass it on (like
        `ResolveContentFutures`): no unit waits for another, and what an earlier
        batch stage handed on together arrives together.
        """
        if self._input_done:
            return
        queue = self._in_q
        assert queue is not None, f"stage {self.name} has no input queue"
        name = self.name
        backlog = self._backlog
        while True:
            units: list[DeclarativeContent] = list(backlog)
            backlog.clear()
            ended = False
            if not units and not queue.qsize():
                ended = _gather(await self._get(), units)  # once per list: no inlining
            while not ended and queue.qsize():
                ended = _gather(queue.get_nowait(), units)
            if units:
                for dc in units:
                    dc.owner = name
                self.items_in += len(units)
                yield units
            if ended:
                self._input_done = True
                return

    def has_queued(self) -> bool:
        """Whether input is waiting, so `next_queued` returns without blocking.

        For stages that take units while their own tasks run (like `ArtifactDownloader`).
        """
        if self._input_done:
            return False
        return bool(self._backlog) or (self._in_q is not None and not self._in_q.empty())

    def next_queued(self) -> DeclarativeContent | None:
        """The next queued unit, without waiting (check `has_queued` first).

        Returns None once the stream has ended.
        """
        if self._backlog:
            return self._accept(self._backlog.popleft())
        assert self._in_q is not None
        return self._accept(self._in_q.get_nowait())

    async def next_item(self) -> DeclarativeContent | None:
        """The next unit, or None once the stream has ended (for stages with own tasks)."""
        if self._input_done:
            return None
        return self._accept(await self._get())

    def _accept(self, item: Any) -> DeclarativeContent | None:
        if type(item) is Bulk:  # take its first unit; the rest wait in the backlog
            self._backlog.extend(item)
            item = self._backlog.popleft()
        if item is _END:
            self._input_done = True
            return None
        dc: DeclarativeContent = item
        dc.owner = self.name
        self.items_in += 1
        return dc

    async def batches(
        self, minsize: int = 500, max_wait: float | None = DEFAULT_MAX_WAIT
    ) -> AsyncIterator[list[DeclarativeContent]]:
        """Yield lists of units, each at least ``minsize`` long unless released early.

        A batch is released before reaching ``minsize`` when the stream ends, when it
        holds a unit with a future (``does_batch`` False), when a future is requested
        for a unit while it waits in the batch, or when its first unit has waited
        ``max_wait`` seconds (so a slow trickle, or one hanging download upstream, does
        not hold finished units back; None waits for ``minsize``).
        """
        if minsize < 1:
            raise ValueError(f"minsize must be >= 1, got {minsize}")
        if self._input_done:
            return
        queue = self._in_q
        assert queue is not None, f"stage {self.name} has no input queue"
        loop = asyncio.get_running_loop()
        batch: list[DeclarativeContent] = []
        thaw = asyncio.Event()
        release = False
        deadline = 0.0
        backlog = self._backlog
        name = self.name
        item: Any
        while True:
            if backlog:
                item = Bulk(backlog)
                backlog.clear()
            elif queue.qsize():
                item = queue.get_nowait()
            else:
                item = await self._next_or_thaw(batch, thaw, deadline if max_wait else None)
            if item is _EXPIRED:
                release = True
            elif type(item) is Bulk:
                if not batch and max_wait:
                    deadline = loop.time() + max_wait
                need = minsize - len(batch)
                if len(item) > need:  # batches stay at most minsize; the rest waits
                    backlog.extend(item[need:])
                    item = item[:need]
                for dc in item:
                    dc.owner = name
                    if dc._future is not None:
                        release = True
                    else:
                        dc._thaw_event = thaw
                batch.extend(item)
                self.items_in += len(item)
            elif item is not None:
                item = self._accept(item)
                if item is None:  # the end of the stream
                    break
                if not batch and max_wait:
                    deadline = loop.time() + max_wait
                batch.append(item)
                if item._future is not None:
                    release = True
                else:
                    item._thaw_event = thaw
            early = (release or thaw.is_set()) and not queue.qsize()
            if batch and (early or len(batch) >= minsize):
                thaw.clear()
                release = False
                out, batch = _released(batch), []
                yield out
        if batch:
            yield _released(batch)

    async def _next_or_thaw(
        self, batch: list[DeclarativeContent], thaw: asyncio.Event, deadline: float | None
    ) -> Any:
        """The next item; None when a future was requested for a unit in ``batch``;
        ``_EXPIRED`` when ``deadline`` (loop time) passed first."""
        if not batch:
            return await self._get()
        timeout = None if deadline is None else deadline - asyncio.get_running_loop().time()
        if timeout is not None and timeout <= 0:
            return _EXPIRED
        self._thaw = thaw
        getter = asyncio.ensure_future(self._get())
        thawed = asyncio.ensure_future(thaw.wait())
        try:
            await asyncio.wait(
                (getter, thawed), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            thawed.cancel()
            getter.cancel()  # no effect once it has its item; else the item stays queued
            await asyncio.wait((getter, thawed))
            self._thaw = None
        if not getter.cancelled():
            return getter.result()
        return None if thaw.is_set() else _EXPIRED

    async def put(self, dc: DeclarativeContent) -> None:
        """Pass ``dc`` to the next stage (waits while the next queue is full)."""
        queue = self._out_q
        if queue is None or not isinstance(dc, DeclarativeContent):
            self._bad_put(dc)
        if queue.full():
            await queue.put(dc)
        else:
            queue.put_nowait(dc)

    def _put_at_once(self, dc: DeclarativeContent) -> bool:
        """Queue ``dc`` as `put` would when that needs no waiting; False (nothing done)
        when it does, or when `put` would refuse it: then await `put`. Saves a
        coroutine per unit where the next queue has room (the usual case)."""
        queue = self._out_q
        if queue is None or queue.full() or not isinstance(dc, DeclarativeContent):
            return False
        queue.put_nowait(dc)
        return True

    async def _put_batch(self, batch: list[DeclarativeContent]) -> None:
        """`put` each unit of ``batch`` in order, without a coroutine per unit (the
        batch stages hand on every unit this way)."""
        if type(self).put is not Stage.put:  # a subclass has its own put: honour it
            for dc in batch:
                await self.put(dc)
            return
        queue = self._out_q
        for dc in batch:
            if queue is None or not isinstance(dc, DeclarativeContent):
                self._bad_put(dc)
        if not batch:
            return
        assert queue is not None
        # One queue entry for the whole batch: the next stage takes it at once.
        bulk = Bulk(batch)
        if queue.full():
            await queue.put(bulk)
        else:
            queue.put_nowait(bulk)

    def _bad_put(self, dc: object) -> NoReturn:
        if not isinstance(dc, DeclarativeContent):
            raise TypeError(f"stage {self.name} put {dc!r}, not a DeclarativeContent")
        raise PipelineError(f"stage {self.name} is the last stage and cannot put")

    async def _drain(self) -> None:
        """Consume what is left of the input after ``run`` returned early."""
        async for dc in self.items():
            if dc.future is not None and not dc.future.done():
                dc.fail(_not_resolved("discarded")(dc))


class EndStage(Stage):
    """The last stage: drains the stream; a unit arriving unresolved gets an error."""

    async def run(self) -> None:
        """Drain every unit, failing the futures nobody resolved."""
        make_error = _not_resolved("passed to the end of the pipeline")
        async for units in self.available():
            for dc in units:
                future = dc._future
                if future is not None and not future.done():
                    dc.owner = None
                    dc.fail(make_error(dc))


class _Pipeline:
    """The running state shared by the stages of one `create_pipeline` call."""

    def __init__(self, stages: Sequence[Stage], maxsize: int, events: EventBus) -> None:
        self.stages = list(stages)
        self.events = events
        self.registry = FutureRegistry(self.check_stall)
        self.queues: list[Channel] = []
        self.maxsize = maxsize

    def wire(self) -> None:
        previous: Channel | None = None
        last = len(self.stages) - 1
        for index, stage in enumerate(self.stages):
            out_q: Channel | None = None
            if index < last:
                out_q = Channel(self.maxsize)
                self.queues.append(out_q)
            stage._connect(self, previous, out_q)
            previous = out_q

    def check_stall(self) -> None:
        """Fail the pending futures if nothing in the pipeline can ever resolve them."""
        if all(dc.future.done() for dc in self.registry.pending):  # type: ignore[union-attr]
            return
        for queue in self.queues:
            if queue.qsize():
                return
        for stage in self.stages:
            if stage._backlog or not stage.is_idle():
                return
        failed = self.registry.fail_all(_not_resolved("dropped"))
        if failed:
            log.warning("pipeline stalled: %d unit(s) dropped without being resolved", failed)

    async def _run_stage(self, stage: Stage) -> None:
        _waiter_var.set(stage)
        await stage.run()
        if stage._in_q is not None:
            await stage._drain()
        if stage._out_q is not None:
            stage._sent_end = True
            await stage._out_q.put(_END)

    async def run(self) -> None:
        token = _registry_var.set(self.registry)
        try:
            tasks = [
                asyncio.create_task(self._run_stage(stage), name=f"stagekit:{stage.name}")
                for stage in self.stages
            ]
        finally:
            _registry_var.reset(token)
        stopped = "cancelled"
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            stopped = ""
        finally:
            failure = _first_failure(tasks)
            if failure is not None or stopped:
                reason = stopped or f"stopped by {failure!r}"
                self.registry.fail_all(
                    lambda dc: PipelineError(f"pipeline {reason} before unit {dc.key} was saved")
                )
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.registry.fail_all(_not_resolved("left in the pipeline"))
            for stage in self.stages:
                try:
                    stage.cleanup()
                except Exception:  # one stage's cleanup must not hide the run's outcome
                    log.exception("cleanup of stage %s failed", stage.name)
        if failure is not None:
            raise failure


def _released(batch: list[DeclarativeContent]) -> list[DeclarativeContent]:
    """``batch``, its units no longer waiting in it (a future request need not thaw it)."""
    for dc in batch:
        dc._thaw_event = None
    return batch


def _first_failure(tasks: Sequence[asyncio.Task[None]]) -> BaseException | None:
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            return task.exception()
    return None


def _with_end(stages: Sequence[Stage]) -> Iterator[Stage]:
    yield from stages
    if not stages or not isinstance(stages[-1], EndStage):
        yield EndStage()


async def create_pipeline(
    stages: Sequence[Stage],
    maxsize: int = DEFAULT_MAXSIZE,
    *,
    events: EventBus | None = None,
) -> None:
    """Run ``stages`` joined by queues of ``maxsize`` until the stream has ended.

    An `EndStage` is appended when the last stage is not one. If a stage raises, the
    others are cancelled, every pending future gets an error, and the error is raised.
    """
    if maxsize < 1:
        raise ValueError(f"maxsize must be >= 1, got {maxsize}")
    pipeline = _Pipeline(list(_with_end(stages)), maxsize, events or EventBus())
    pipeline.wire()
    with relaxed_gc():
        await pipeline.run()
