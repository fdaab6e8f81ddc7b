"""Run a remote: awaitable, blocking, or in the background with a live handle.

``run = await stagekit.explore(remote)`` in a notebook or a coroutine;
``stagekit.explore_sync(remote)`` from a script or a notebook cell;
``run = stagekit.start(remote)`` returns at once while the run goes on in the loop.
While it runs and after, ``run.stats``, ``run.graph``, ``run.to_dataframe()`` and
``run.artifacts_dataframe()`` are consistent snapshots.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stagekit.discovery import Discovery
from stagekit.download import DownloadConfig, Downloader
from stagekit.events import EventBus
from stagekit.pipeline import DEFAULT_MAXSIZE, Stage, create_pipeline
from stagekit.records import RunRecorder
from stagekit.stages import default_stages
from stagekit.storage import Store

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

__all__ = ["Run", "explore", "explore_sync", "start"]

log = logging.getLogger(__name__)


class Run:
    """One exploration of a remote: its task, its live records and its results."""

    def __init__(
        self,
        remote: Discovery,
        *,
        store: Store | str | Path | None = None,
        policy: str = "immediate",
        max_depth: int | None = None,
        on_error: str = "continue",
        concurrency: int | None = None,
        max_concurrent_content: int = 200,
        maxsize: int = DEFAULT_MAXSIZE,
        download_config: DownloadConfig | None = None,
    ) -> None:
        if max_depth is not None:
            remote.max_depth = max_depth
        remote.on_error = on_error
        self.remote = remote
        self._own_store = not isinstance(store, Store)
        if store is None:
            store = tempfile.mkdtemp(prefix="stagekit-store-")
        self.store = store if isinstance(store, Store) else Store(store)
        self.policy = policy
        self.on_error = on_error
        self.max_concurrent_content = max_concurrent_content
        self.maxsize = maxsize
        config = download_config or DownloadConfig()
        if concurrency is not None:
            config = dataclasses.replace(
                config, total=concurrency, per_host=min(config.per_host, concurrency))
        self.download_config = config
        self.records = RunRecorder()
        self.events = EventBus()
        self.events.subscribe(self.records)
        self.stages: list[Stage] = []
        self.run_id: int | None = None
        self.status = "created"
        self.error: BaseException | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._done_callbacks: list[Callable[[Run], None]] = []

    # -- running ------------------------------------------------------------------

    def start(self) -> Run:
        """Schedule the run on the running loop and return at once."""
        if self._task is not None:
            raise RuntimeError("this run was already started")
        self._task = asyncio.get_running_loop().create_task(self._main(), name="stagekit-run")
        for callback in self._done_callbacks:
            self._task.add_done_callback(lambda _task, callback=callback: callback(self))
        self._done_callbacks.clear()
        return self

    def add_done_callback(self, callback: Callable[[Run], None]) -> None:
        """Call ``callback(run)`` on the loop when the run ends, before its awaiters resume."""
        if self._task is None:
            self._done_callbacks.append(callback)
        else:
            self._task.add_done_callback(lambda _task: callback(self))

    async def _main(self) -> None:
        self.status = "running"
        self.started_at = time.time()
        catalog = self.store.catalog
        params = {"policy": self.policy, "max_depth": self.remote.max_depth,
                  "on_error": self.on_error, "session": self.store.session}
        self.run_id = await asyncio.to_thread(catalog.start_run, describe(self.remote), params)
        # Downloads wait in a folder of the run's own, removed whatever the outcome.
        temp_dir = self.store.tmp_dir / f"run-{self.run_id}"
        try:
            async with Downloader(self.download_config, temp_dir=temp_dir) as dl:
                self.remote.downloader = dl
                self.remote.store = self.store
                self.stages = default_stages(
                    self.remote, self.store, self.policy, self.on_error, run_id=self.run_id,
                    max_concurrent_content=self.max_concurrent_content, downloader=dl,
                )
                await create_pipeline(self.stages, self.maxsize, events=self.events)
            self.status = "finished"
        except asyncio.CancelledError:
            self.status = "cancelled"
            raise
        except BaseException as exc:
            self.status = "failed"
            self.error = exc
            raise
        finally:
            self.finished_at = time.time()
            self.remote.downloader = self.remote.store = None  # the remote may run again
            shutil.rmtree(temp_dir, ignore_errors=True)
            await asyncio.shield(asyncio.to_thread(self._save_records))

    def _save_records(self) -> None:
        """Write the run's per-unit records, edges and outcome to the catalog."""
        if self.run_id is None:
            return
        catalog = self.store.catalog
        try:
            records = self.records
            rows = [
                {"kind": r.kind, "key": r.key, "natural_key": r.natural_key,
                 "depth": r.depth, "status": r.status, "error": r.error,
                 "n_artifacts": r.n_artifacts}
                for r in records.units.values()
                if r.status in ("failed", "discovered") or r.key in records.depth_changed
            ]
            # Failed artifacts never reach ContentSaver; keep them for load_run's table.
            links = [
                {"key": a.unit_key, "relative_path": a.relative_path, "url": a.url,
                 "sha256": None, "size": a.size, "status": a.status, "error": a.error,
                 "tries": a.tries}
                for a in records.artifacts.values()
                if a.status == "failed" and records.units.get(a.unit_key) is not None
                and records.units[a.unit_key].status == "failed"
            ]
            edges = [(p, c, rel or "") for (p, c), rel in records.edges.items()]
            catalog.save_batch(self.run_id, contents=rows, links=links, edges=edges)
            catalog.finish_run(self.run_id, self.status, self.stats)
        except Exception:  # the run's own outcome matters more than its bookkeeping
            log.exception("could not record run %s in the catalog", self.run_id)

    def __await__(self) -> Generator[Any, None, Run]:
        if self._task is None:
            self.start()
        assert self._task is not None
        yield from asyncio.shield(self._task).__await__()
        return self

    def cancel(self) -> bool:
        """Stop the run; what was saved stays saved. Returns False if it had finished."""
        if self._task is None or self._task.done():
            return False
        return self._task.cancel()

    @property
    def done(self) -> bool:
        """Whether the run has ended (finished, failed or cancelled)."""
        return self._task is not None and self._task.done()

    # -- what it found ------------------------------------------------------------

    @property
    def errors(self) -> list[tuple[str, str]]:
        """``(unit key, error)`` for every failed unit."""
        return [(r.key, r.error or "") for r in self.records.units.values() if r.status == "failed"]

    @property
    def stats(self) -> dict[str, Any]:
        """Counts per stage, status and depth, bytes, rate and elapsed time."""
        now = self.finished_at or time.time()
        elapsed = now - self.started_at if self.started_at else 0.0
        records = self.records
        return {
            "status": self.status,
            "elapsed": elapsed,
            "units": len(records.units),
            "statuses": {k: v for k, v in records.status_counts.items() if v},
            "depths": {d: n for d, n in sorted(records.depth_counts.items()) if n},
            "stages": {s.name: {"in": s.items_in, "out": s.items_out} for s in self.stages},
            "bytes": records.bytes_downloaded,
            "bytes_per_second": records.bytes_downloaded / elapsed if elapsed else 0.0,
            "errors": records.status_counts.get("failed", 0),
        }

    @property
    def graph(self) -> nx.DiGraph:
        """The discovery graph so far (a new DiGraph each time)."""
        return self.records.graph()

    def subgraph(self, **filters: Any) -> nx.DiGraph:
        """The graph of the units that ``kinds``/``statuses``/``depths``/``key`` keep."""
        from stagekit.graphs import subgraph

        return subgraph(self.graph, **filters)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per unit found so far (a new frame each time), with the remote's columns."""
        return self.remote.annotate(self.records.to_dataframe())

    def artifacts_dataframe(self) -> pd.DataFrame:
        """One row per artifact handled so far (a new frame each time)."""
        return self.records.artifacts_dataframe()

    def widget(self) -> Any:
        """A live ipywidgets view of this run."""
        from stagekit.notebook import RunWidget  # the notebook layer sits above this one

        return RunWidget(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from stagekit.notebook import run_mimebundle

        return run_mimebundle(self)

    def _ipython_display_(self) -> None:
        from stagekit.notebook import display_run  # shows the final summary when it ends

        display_run(self)

    def __repr__(self) -> str:
        return f"<Run {describe(self.remote)} {self.status}: {len(self.records.units)} units>"


def describe(remote: Discovery) -> str:
    """A short text naming a remote, for the catalog and displays."""
    describer = getattr(remote, "describe", None)
    return describer() if callable(describer) else type(remote).__name__


def start(remote: Discovery, **options: Any) -> Run:
    """Start exploring ``remote`` on the running loop and return its `Run` at once."""
    return Run(remote, **options).start()


async def explore(remote: Discovery, **options: Any) -> Run:
    """Explore ``remote`` to the end and return the `Run` (see `Run` for the options).

    The run belongs to this call: if the caller is cancelled (a timeout, Ctrl-C), the run
    is cancelled too and has stopped when the cancellation propagates.
    """
    run = Run(remote, **options).start()
    try:
        return await run
    except asyncio.CancelledError:
        if run.cancel():
            await asyncio.wait({run._task})  # type: ignore[arg-type]
        raise


def explore_sync(remote: Discovery, **options: Any) -> Run:
    """Explore ``remote`` and block until done, also from a cell whose loop is running."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(explore(remote, **options))
    import nest_asyncio2  # only where a loop already runs (a notebook cell)

    nest_asyncio2.apply(loop)
    return loop.run_until_complete(explore(remote, **options))

