"""The worker side of a batch: a unit's own work, from its declaration to its children.

For each declared unit of a batch a worker runs the sync stages (what the store holds
already, downloads, storing, the catalog rows), then, for a saved unit the coordinator
asked to explore, the remote's `discover`. What goes back is small and plain: per unit
its status, its artifact records and the children it declared; per batch the events the
stages emitted (downloads, failures, bytes) and the failures the remote reported.
"""

from __future__ import annotations

from typing import Any

from stagekit.cluster._claimed import ClaimedQuery, ClaimingSaver
from stagekit.cluster._wire import da_out, dc_in, dc_out, dumps, events_out, loads
from stagekit.cluster._worker import (
    StoreSpec,
    _discover_all,
    _get_runtime,
    _Opened,
    open_run,
    worker_address,
)
from stagekit.download import DownloadConfig
from stagekit.errors import failure_text
from stagekit.events import Event, EventBus, UnitFinished
from stagekit.models import DeclarativeContent
from stagekit.pipeline import DEFAULT_MAXSIZE, Stage, create_pipeline
from stagekit.stages.artifacts import ArtifactDownloader, ArtifactSaver, QueryExistingArtifacts
from stagekit.stages.content import ContentSaver, QueryExistingContents

__all__ = ["BatchResult", "process_batch"]

#: ``(saved, failed, events, failures)``, by the index of each unit in the batch: per
#: saved unit ``(index, status, artifact tuples, child tuples or an exception or None)``;
#: per failed unit ``(index, error text)``; events as `_wire.events_out` tuples.
BatchResult = tuple[list[tuple[int, str, list[Any], Any]], list[tuple[int, str]],
                    list[tuple[Any, ...]], list[tuple[Any, ...]]]


class _Feed(Stage):
    name = "ClusterFeed"

    def __init__(self, items: list[DeclarativeContent]) -> None:
        self.to_put = items

    async def run(self) -> None:
        for dc in self.to_put:
            await self.put(dc)


class _Collect(Stage):
    name = "ClusterCollect"

    def __init__(self) -> None:
        self.saved: list[DeclarativeContent] = []

    async def run(self) -> None:
        async for dc in self.items():
            self.saved.append(dc)


async def _process(opened: _Opened, run_id: int | None, blob: bytes) -> bytes:
    items: list[tuple[Any, bool]] = loads(blob)
    dcs = [dc_in(wire) for wire, _ in items]
    ctx = opened.ctx
    store = opened.store
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    collect = _Collect()
    claims = opened.claims
    query: Stage = (
        QueryExistingArtifacts(store, stored_by_run=opened.stored_by_run, policy=ctx.policy)
        if claims is None else
        ClaimedQuery(claims, stored_by_run=opened.stored_by_run, policy=ctx.policy))
    saver: Stage = (ArtifactSaver(store, stored_by_run=opened.stored_by_run) if claims is None
                    # Fewer, larger claim transactions: a batch is many units already.
                    else ClaimingSaver(claims, minsize=500, stored_by_run=opened.stored_by_run))
    stages: list[Stage] = [
        _Feed(dcs),
        query,
        ArtifactDownloader(store, max_concurrent_content=opened.max_concurrent_content,
                           policy=ctx.policy, on_error=ctx.on_error, downloader=opened.downloader),
        saver,
        QueryExistingContents(store),
        ContentSaver(store, run_id),
        collect,
    ]
    await create_pipeline(stages, DEFAULT_MAXSIZE, events=bus)
    index = {id(dc): i for i, dc in enumerate(dcs)}
    explore = [dc for dc in collect.saved if items[index[id(dc)]][1]]
    found = (dict(await _discover_all(opened, [(dc.content, dc) for dc in explore]))
             if explore else {})
    saved = []
    done = set()
    for dc in collect.saved:
        i = index[id(dc)]
        done.add(i)
        children: Any = found.get(dc.key)
        if isinstance(children, list):
            children = [dc_out(child) for child in children]
        saved.append((i, dc.status or "downloaded", [da_out(da) for da in dc.d_artifacts],
                      children))
    failed = []
    for i, dc in enumerate(dcs):
        if i not in done:
            failed.append((i, failure_text(dc.error) if dc.error is not None
                           else "lost on a worker without an error"))
    # A unit that failed on a worker is reported by the worker's own events (the
    # artifact that failed, then the unit); one dropped without any gets its line here.
    reported = {e.key for e in events if isinstance(e, UnitFinished)}
    for i, text in failed:
        if dcs[i].key not in reported:
            events.append(UnitFinished(dcs[i].key, "failed", text))
    failures, opened.failures[:] = list(opened.failures), []
    return dumps((saved, failed, events_out(events), failures))


def process_batch(token: str, remote_blob: bytes, spec: StoreSpec, options: dict[str, Any],
                  config: DownloadConfig, run_id: int | None, blob: bytes) -> tuple[str, bytes]:
    """Dask task: each declared unit of ``blob`` handled whole, explored when flagged.

    ``blob`` is a `_wire.dumps` of ``(unit tuple, explore?)`` pairs; the answer is the
    worker's address and one such blob (see `BatchResult`). What it writes (files under
    their digest, catalog rows by key) is idempotent, so a batch that Dask retries after
    its worker died repeats work but duplicates nothing.
    """
    runtime = _get_runtime()
    opened = open_run(runtime, token, remote_blob, spec, options, config)
    _secede()
    return worker_address(), runtime.call(_process(opened, run_id, blob), token)


def _secede() -> None:
    """Give this task's thread slot back to the worker while the batch runs.

    A batch mostly waits (on the network, the store, the catalog) in the worker's one
    event loop, which runs every batch of the worker; holding a Dask thread meanwhile
    would keep the worker's next batch queued until this one's slowest unit is done.
    """
    try:
        from distributed import secede

        secede()
    except (ImportError, ValueError, KeyError):  # not in a Dask worker's task
        pass
