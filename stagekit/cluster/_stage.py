"""The coordinator's second stage: units go to the workers in batches, results come back.

`ClusterStage` follows the discovery engine. It queues the units the engine puts and
sends them to the workers as Dask tasks of many units each, sized by what is queued
(the queue split over the free task slots, between ``min_batch`` and ``max_batch``),
with at most ``2 x`` the cluster's threads in flight. A worker handles each unit whole
(downloads, storing, catalog rows, then `discover` when the unit is to be explored);
the stage replays the worker's events on the run's bus, puts each unit's artifact
records on it, hands its children to `ClusterRemote` and resolves its future, so the
engine -- dedup, depth, the stopping rule, the graph -- goes on as in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stagekit.cluster._batch import BatchResult, process_batch
from stagekit.cluster._claims import create_claims_table, forget_claims
from stagekit.cluster._wire import dc_in, dc_out, dumps, events_in, loads
from stagekit.errors import UnitFailedError
from stagekit.events import UnitFinished
from stagekit.models import Artifact, DeclarativeContent
from stagekit.pipeline import Stage

if TYPE_CHECKING:
    from stagekit.cluster._remote import ClusterRemote
    from stagekit.engine import DiscoveryEngine

__all__ = ["ClusterStage"]


class ClusterStage(Stage):
    """Sends the engine's units to the cluster of ``remote`` in adaptive batches."""

    name = "Workers"
    #: Batches in flight per worker thread: a worker runs its batches side by side in
    #: its event loop (see `_batch._secede`), and a batch mostly waits on the network.
    slots_per_thread = 4

    def __init__(self, remote: ClusterRemote, run_id: int | None, *, min_batch: int = 1,
                 max_batch: int = 2000, coalesce: float = 0.005,
                 engine: DiscoveryEngine | None = None) -> None:
        self.remote = remote
        #: The engine before this stage, settled in bulk (`DiscoveryEngine.settle`): the
        #: children a batch brings back are declared there and queued here at once,
        #: without a future, a task or a pipeline hop per unit.
        self.engine = engine
        if engine is not None:
            engine.settled_by_next = True
        self.run_id = run_id
        self.min_batch = min_batch
        self.max_batch = max_batch
        self.coalesce = coalesce
        self._queue: deque[DeclarativeContent] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._futures: set[Any] = set()
        self._slots = 4
        self._timer: asyncio.TimerHandle | None = None
        self._error: Exception | None = None
        self._stopped = False

    @property
    def busy(self) -> bool:
        return bool(self._queue or self._tasks)

    async def run(self) -> None:
        """Queue what the engine puts, dispatch, and wait for the last batch."""
        self._slots = max(2, self.slots_per_thread * await self.remote.total_threads())
        catalog = None
        try:
            while True:
                dc = await self.next_item()
                if dc is None or self._error is not None:
                    break
                if catalog is None and self.run_id is not None:
                    # The engine opened the remote before its first unit came out.
                    catalog = self.remote.store.catalog
                    # The run's claims on the files it stores (see `_claims`).
                    await asyncio.to_thread(create_claims_table, catalog)
                    self.remote.options["run_id"] = self.run_id
                self._queue.append(dc)
                while self.has_queued():
                    more = self.next_queued()
                    if more is None:
                        break
                    self._queue.append(more)
                self._schedule()
            while self._queue or self._tasks:
                self._dispatch()
                if self._tasks:
                    await asyncio.wait(set(self._tasks))
            if self._error is not None:
                raise self._error
            if catalog is not None and self.run_id is not None:
                # Not when cancelled: a cancel is not to wait on the catalog's lock.
                await asyncio.to_thread(forget_claims, catalog, self.run_id)
        finally:
            try:
                await self._stop()
            finally:
                await asyncio.shield(self.remote.shutdown())

    def _schedule(self) -> None:
        if len(self._queue) >= self.max_batch:
            self._dispatch()
        elif self._timer is None:
            # Let the units put in the next few milliseconds join the batch.
            self._timer = asyncio.get_running_loop().call_later(self.coalesce, self._dispatch)

    def _dispatch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._stopped:  # a batch that ended as the run stopped sends nothing more
            return
        queue = self._queue
        free = self._slots - len(self._tasks)
        while queue and free > 0:
            size = max(self.min_batch, min(self.max_batch, -(-len(queue) // free)))
            part = [queue.popleft() for _ in range(min(size, len(queue)))]
            task = asyncio.get_running_loop().create_task(self._run_batch(part))
            self._tasks.add(task)
            task.add_done_callback(self._task_done)
            free -= 1

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._queue and not task.cancelled():
            self._dispatch()

    def _awaited(self, dc: DeclarativeContent) -> bool:
        engine = self.engine
        return engine.awaits(dc) if engine is not None else dc.future is not None

    async def _run_batch(self, part: list[DeclarativeContent]) -> None:
        remote = self.remote
        max_depth = remote.max_depth_of_run
        # Which units the engine awaits: fixed until they are settled, so asked once.
        waits = [self._awaited(dc) for dc in part]
        blob = dumps([(dc_out(dc), wait and (max_depth is None or dc.depth < max_depth))
                      for dc, wait in zip(part, waits, strict=True)])
        # What a revisit may change meanwhile: children found with other extra_data are
        # found again (see `ClusterRemote.discover`).
        extras = [dict(dc.extra_data) for dc in part] if remote.revisits else None
        future = remote.client.submit(
            process_batch, remote.token, remote.blob, remote.spec, remote.options,
            remote.download_config, self.run_id, blob, retries=remote.retries, pure=False)
        self._futures.add(future)
        try:
            address, answer = await remote.result_of(future)
        except Exception as exc:  # the task failed for good (e.g. its workers kept dying)
            await self._lost(part, waits, exc)
            return
        finally:
            self._futures.discard(future)
        remote.workers.add(address)
        await self._absorb(part, waits, loads(answer), extras)

    async def _absorb(self, part: list[DeclarativeContent], waits: list[bool],
                      result: BatchResult, extras: list[dict[str, Any]] | None = None
                      ) -> None:
        saved, failed, events, failures = result
        engine = self.engine
        bus = self.events
        if bus.active:
            for event in events_in(events):
                bus.emit(event)
        remote = self.remote
        if failures:
            remote.replay(failures, {dc.key: dc for dc in part})
        for i, status, records, children in saved:
            dc = part[i]
            if records:
                by_path = {da.relative_path: da for da in dc.d_artifacts}
                for record in records:
                    da = by_path.get(record[1])
                    if da is not None:
                        da.status, da.tries = record[6], record[7]
                        stored = record[8]
                        if stored is not None:
                            sha256, size, digests, where = stored
                            da.artifact = Artifact(sha256, size, digests, Path(where))
            dc.status = status
            if engine is None:
                if children is not None:
                    remote.stash(dc, children)
                dc.resolve()
        for i, text in failed:
            part[i].fail(UnitFailedError(text, unit_key=part[i].key))
        if engine is not None:
            self._settle(part, waits, saved, failed, extras)
        done = [part[i] for i, _status, _records, _children in saved]
        done.extend(part[i] for i, _text in failed)
        await self._put_batch(done)

    def _settle(self, part: list[DeclarativeContent], waits: list[bool], saved: list[Any],
                failed: list[tuple[int, str]], extras: list[dict[str, Any]] | None) -> None:
        """Hand the engine each awaited unit with its children; queue the new ones."""
        engine = self.engine
        assert engine is not None
        units: list[tuple[DeclarativeContent, Any]] = []
        for i, _status, _records, children in saved:
            if not waits[i]:
                continue
            dc = part[i]
            if isinstance(children, list):
                if extras is not None and extras[i] != dc.extra_data:
                    children = None  # a revisit widened it meanwhile: explore it again
                else:
                    children = [dc_in(wire) for wire in children]
            units.append((dc, children))
        units.extend((part[i], None) for i, _text in failed if waits[i])
        if units:
            self._queue.extend(engine.settle(units))
        if self._queue:
            self._schedule()

    async def _lost(self, part: list[DeclarativeContent], waits: list[bool],
                    exc: Exception) -> None:
        """Fail the units of a batch whose Dask task failed; stop the run under abort."""
        text = f"cluster task failed: {type(exc).__name__}: {exc}"
        bus = self.events
        for dc in part:
            dc.fail(UnitFailedError(text, unit_key=dc.key))
            if bus.active:
                bus.emit(UnitFinished(dc.key, "failed", text))
        if self.remote.options.get("on_error") == "abort" and self._error is None:
            self._error = exc
        if self.engine is not None:
            self._settle(part, waits, [], [(i, text) for i in range(len(part))], None)
        await self._put_batch(part)

    async def _stop(self) -> None:
        """Cancel what is still queued or running on the cluster (a cancelled run)."""
        self._stopped = True
        self._queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._tasks):
            task.cancel()
        if self._futures or self.remote.in_flight:
            futures = [*self._futures, *self.remote.in_flight]
            self._futures = set()
            with contextlib.suppress(Exception):
                await asyncio.shield(self.remote.cancel(futures))
