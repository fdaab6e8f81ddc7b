"""The worker side of a batch: a unit's own work, from its declaration to its children.

For each declared unit of a batch a worker runs the sync stages (what the store holds
already, downloads, storing, the catalog rows), then, for a saved unit the coordinator
asked to explore, the remote's `discover`. What goes back is small and plain: per unit
its status, its artifact records and the children it declared; per batch the events the
stages emitted (downloads, failures, bytes) and the failures the remote reported.
"""

from __future__ import annotations

from typing import Any

from stagekit.cluster._worker import (
    StoreSpec,
    _discover_all,
    _get_runtime,
    _Opened,
    lite_da,
    open_run,
)
from stagekit.download import DownloadConfig
from stagekit.errors import failure_text
from stagekit.events import Event, EventBus, UnitFinished
from stagekit.models import DeclarativeContent
from stagekit.pipeline import DEFAULT_MAXSIZE, Stage, create_pipeline
from stagekit.stages.artifacts import ArtifactDownloader, ArtifactSaver, QueryExistingArtifacts
from stagekit.stages.content import ContentSaver, QueryExistingContents

__all__ = ["BatchResult", "process_batch"]

#: ``(saved, failed, events, failures)``: per saved unit ``(key, status, artifacts,
#: children or an exception or None)``; per failed unit ``(key, error text)``.
BatchResult = tuple[list[tuple[str, str, list[Any], Any]], list[tuple[str, str]],
                    list[Event], list[tuple[Any, ...]]]


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


async def _process(opened: _Opened, run_id: int | None,
                   items: list[tuple[DeclarativeContent, bool]]) -> BatchResult:
    ctx = opened.ctx
    store = opened.store
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    collect = _Collect()
    stages: list[Stage] = [
        _Feed([dc for dc, _ in items]),
        QueryExistingArtifacts(store, stored_by_run=opened.stored_by_run, policy=ctx.policy),
        ArtifactDownloader(store, max_concurrent_content=opened.max_concurrent_content,
                           policy=ctx.policy, on_error=ctx.on_error, downloader=opened.downloader),
        ArtifactSaver(store, stored_by_run=opened.stored_by_run),
        QueryExistingContents(store),
        ContentSaver(store, run_id),
        collect,
    ]
    await create_pipeline(stages, DEFAULT_MAXSIZE, events=bus)
    explore = {dc.key for dc, wanted in items if wanted}
    to_discover = [(dc.content, dc) for dc in collect.saved if dc.key in explore]
    found = dict(await _discover_all(opened, to_discover)) if to_discover else {}
    saved_keys = set()
    saved = []
    for dc in collect.saved:
        saved_keys.add(dc.key)
        saved.append((dc.key, dc.status or "downloaded",
                      [lite_da(da) for da in dc.d_artifacts], found.get(dc.key)))
    failed = []
    for dc, _ in items:
        if dc.key not in saved_keys:
            failed.append((dc.key, failure_text(dc.error) if dc.error is not None
                           else "lost on a worker without an error"))
    # A unit that failed on a worker is reported by the worker's own events (the
    # artifact that failed, then the unit); one dropped without any gets its line here.
    reported = {e.key for e in events if isinstance(e, UnitFinished)}
    for key, text in failed:
        if key not in reported:
            events.append(UnitFinished(key, "failed", text))
    failures, opened.failures[:] = list(opened.failures), []
    return saved, failed, events, failures


def process_batch(token: str, remote_blob: bytes, spec: StoreSpec, options: dict[str, Any],
                  config: DownloadConfig, run_id: int | None,
                  items: list[tuple[DeclarativeContent, bool]]) -> BatchResult:
    """Dask task: each declared unit handled whole, and explored when its flag says so.

    What it writes (files under their digest, catalog rows by key) is idempotent, so a
    batch that Dask retries after its worker died repeats work but duplicates nothing.
    """
    runtime = _get_runtime()
    opened = open_run(runtime, token, remote_blob, spec, options, config)
    return runtime.call(_process(opened, run_id, items), token)
