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
import weakref
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stagekit._gc import relaxed_gc
from stagekit.download import DownloadConfig, Downloader
from stagekit.errors import ConfigurationError
from stagekit.events import EventBus
from stagekit.options import (
    OnError,
    Policy,
    check_concurrency,
    check_policy,
)
from stagekit.pipeline import DEFAULT_MAXSIZE, Stage, create_pipeline
from stagekit.records import RunRecorder
from stagekit.remote import Remote, run_choices
from stagekit.stages import default_stages
from stagekit.storage import Store
from stagekit.urls import redact_text

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

__all__ = ["Run", "explore", "explore_sync", "start"]

log = logging.getLogger(__name__)


class Run:
    """One exploration of a remote: its task, its live records and its results.

    ``store`` is a `Store` or a folder (a temporary folder when None). ``policy``,
    ``on_error`` and ``max_depth`` are the run's choices; ``on_error`` and ``max_depth``
    default to the remote's own. ``concurrency`` caps downloads in all (and per host),
    ``max_concurrent_content`` the units downloading at once, ``maxsize`` the queues.
    Every option is checked here, before anything is written to the catalog.
    Without ``store=`` the run gets a temporary store of its own, deleted when the `Run`
    is garbage-collected or the process exits, unless ``keep=True`` (then it stays at
    ``run.store.path``).
    """

    def __init__(
        self,
        remote: Remote,
        *,
        store: Store | str | Path | None = None,
        policy: Policy = "immediate",
        max_depth: int | None = None,
        on_error: OnError | None = None,
        concurrency: int | None = None,
        max_concurrent_content: int = 200,
        maxsize: int = DEFAULT_MAXSIZE,
        download_config: DownloadConfig | None = None,
        cluster: Any = None,
        keep: bool = False,
    ) -> None:
        if not isinstance(remote, Remote):
            raise ConfigurationError(
                f"expected a stagekit.Remote to explore, got {type(remote).__name__}")
        self.remote = remote
        self.policy = check_policy(policy)
        self.on_error, self.max_depth = run_choices(remote, on_error, max_depth)
        self.max_concurrent_content = check_concurrency(
            "max_concurrent_content", max_concurrent_content)
        self.maxsize = check_concurrency("maxsize", maxsize)
        config = download_config or DownloadConfig()
        if concurrency is not None:
            check_concurrency("concurrency", concurrency)
            config = dataclasses.replace(
                config, total=concurrency, per_host=min(config.per_host, concurrency))
        self.download_config = config
        self._own_store = not isinstance(store, Store)
        temporary = store is None
        if store is None:
            store = tempfile.mkdtemp(prefix="stagekit-store-")
        self.store = store if isinstance(store, Store) else Store(store)
        if temporary and not keep:
            # Without store= each run would leave a folder behind: it goes with the Run.
            weakref.finalize(self, _remove_store, self.store)
        #: A Dask client: `discover` then runs on its workers (see `stagekit.cluster`).
        self.cluster = cluster
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
            self.add_done_callback(callback)
        self._done_callbacks.clear()
        return self

    def add_done_callback(self, callback: Callable[[Run], None]) -> None:
        """Call ``callback(run)`` on the loop when the run ends, before its awaiters resume."""
        if self._task is None:
            self._done_callbacks.append(callback)
        else:
            self._task.add_done_callback(lambda _task: callback(self))

    async def _main(self) -> None:
        # The collector stays relaxed until the records are saved: restored before, the
        # young collections of building the records' rows in a worker thread would scan
        # the whole run's objects (100-200 ms holding the GIL at the end of a large run).
        with relaxed_gc():
            await self._run()

    async def _run(self) -> None:
        self.status = "running"
        self.started_at = time.time()
        catalog = self.store.catalog
        params = {"policy": self.policy, "max_depth": self.max_depth,
                  "on_error": self.on_error, "session": self.store.session}
        self.run_id = await asyncio.to_thread(catalog.start_run, self.remote.describe(), params)
        # Downloads wait in a folder of the run's own, removed whatever the outcome.
        temp_dir = self.store.tmp_dir / f"run-{self.run_id}"
        try:
            async with Downloader(self.download_config, temp_dir=temp_dir) as dl:
                self.stages = self._build_stages(dl)
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
            shutil.rmtree(temp_dir, ignore_errors=True)
            await asyncio.shield(asyncio.to_thread(self._save_records))

    def _build_stages(self, dl: Downloader) -> list[Stage]:
        if self.cluster is None:
            return default_stages(
                self.remote, self.store, self.policy, self.on_error,
                max_depth=self.max_depth, run_id=self.run_id,
                max_concurrent_content=self.max_concurrent_content, downloader=dl)
        from stagekit.cluster import cluster_stages  # needs the [dask] extra's packages

        return cluster_stages(
            self.remote, self.cluster, self.store, self.policy, self.on_error,
            max_depth=self.max_depth, run_id=self.run_id,
            max_concurrent_content=self.max_concurrent_content, downloader=dl,
            download_config=self.download_config)

    def _save_records(self) -> None:
        """Write the run's per-unit records, edges and outcome to the catalog."""
        if self.run_id is None:
            return
        catalog = self.store.catalog
        lost: str | None = None
        try:
            records = self.records
            rows = [
                {"kind": r.kind, "key": r.key, "natural_key": r.natural_key,
                 "depth": r.depth, "status": r.status, "error": r.error,
                 "n_artifacts": r.n_artifacts}
                for r in records.to_save()
            ]
            # Failed artifacts never reach ContentSaver; keep them for load_run's table.
            failed = {r.key for r in records.failed()}
            links = [
                {"key": a.unit_key, "relative_path": a.relative_path, "url": a.url,
                 "sha256": None, "size": a.size, "status": a.status, "error": a.error,
                 "tries": a.tries}
                for (key, _), a in records.eager_artifacts().items()
                if a.status == "failed" and key in failed
            ]
            # A block's edges were copied with its rows (`stagekit.known`).
            edges = [(p, c, rel or "") for (p, c), rel in records.eager_edges().items()]
            catalog.save_batch(self.run_id, contents=rows, links=links, edges=edges)
        except Exception as exc:  # the run's own outcome matters more than its bookkeeping
            log.exception("could not record run %s in the catalog", self.run_id)
            lost = f"its records could not be saved: {redact_text(str(exc))}"
            if self.status == "finished":  # incomplete records: never "finished"
                self.status, self.error = "failed", exc
        try:
            stats = self.stats if lost is None else {**self.stats, "error": lost}
            catalog.finish_run(self.run_id, self.status, stats)
        except Exception:
            log.exception("could not record the outcome of run %s in the catalog", self.run_id)

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
        return [(r.key, r.error or "") for r in self.records.failed()]

    @property
    def stats(self) -> dict[str, Any]:
        """Counts per stage, status and depth, bytes, rate and elapsed time."""
        now = self.finished_at or time.time()
        elapsed = now - self.started_at if self.started_at else 0.0
        records = self.records
        return {
            "status": self.status,
            "elapsed": elapsed,
            "units": records.unit_count,
            "statuses": {k: v for k, v in records.status_counts.items() if v},
            "depths": {d: n for d, n in sorted(records.depth_counts.items()) if n},
            "stages": {s.name: {"in": s.items_in, "out": s.items_out} for s in self.stages},
            "bytes": records.bytes_downloaded,
            "bytes_per_second": records.bytes_downloaded / elapsed if elapsed else 0.0,
            "errors": records.status_counts.get("failed", 0),
        }

    def depths(self) -> dict[str, int]:
        """The shortest depth found so far for every unit, by key."""
        return self.records.depths()

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

    def diff(self, other: Run | int) -> pd.DataFrame:
        """`stagekit.diff` from this run (the old one) to ``other`` (a Run or a run id)."""
        from stagekit.diff import diff

        return diff(self, other, self.store)

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
        return f"<Run {self.remote.describe()} {self.status}: {self.records.unit_count} units>"


def _remove_store(store: Store) -> None:
    """Close and delete a run's temporary store (the Run was collected, or at exit)."""
    store.close()
    shutil.rmtree(store.path, ignore_errors=True)


def start(
    remote: Remote,
    *,
    store: Store | str | Path | None = None,
    policy: Policy = "immediate",
    max_depth: int | None = None,
    on_error: OnError | None = None,
    concurrency: int | None = None,
    max_concurrent_content: int = 200,
    maxsize: int = DEFAULT_MAXSIZE,
    download_config: DownloadConfig | None = None,
    cluster: Any = None,
    keep: bool = False,
) -> Run:
    """Start exploring ``remote`` on the running loop and return its `Run` at once.

    The options are `Run`'s.
    """
    return Run(remote, store=store, policy=policy, max_depth=max_depth, on_error=on_error,
               concurrency=concurrency, max_concurrent_content=max_concurrent_content,
               maxsize=maxsize, download_config=download_config, keep=keep,
               cluster=cluster).start()


async def explore(
    remote: Remote,
    *,
    store: Store | str | Path | None = None,
    policy: Policy = "immediate",
    max_depth: int | None = None,
    on_error: OnError | None = None,
    concurrency: int | None = None,
    max_concurrent_content: int = 200,
    maxsize: int = DEFAULT_MAXSIZE,
    download_config: DownloadConfig | None = None,
    cluster: Any = None,
    keep: bool = False,
) -> Run:
    """Explore ``remote`` to the end and return the `Run` (the options are `Run`'s).

    The run belongs to this call: if the caller is cancelled (a timeout, Ctrl-C), the run
    is cancelled too and has stopped when the cancellation propagates.
    """
    run = start(remote, store=store, policy=policy, max_depth=max_depth, on_error=on_error,
                concurrency=concurrency, max_concurrent_content=max_concurrent_content,
                maxsize=maxsize, download_config=download_config, keep=keep, cluster=cluster)
    try:
        return await run
    except asyncio.CancelledError:
        if run.cancel() and run._task is not None:
            await asyncio.wait({run._task})
        raise


def explore_sync(
    remote: Remote,
    *,
    store: Store | str | Path | None = None,
    policy: Policy = "immediate",
    max_depth: int | None = None,
    on_error: OnError | None = None,
    concurrency: int | None = None,
    max_concurrent_content: int = 200,
    maxsize: int = DEFAULT_MAXSIZE,
    download_config: DownloadConfig | None = None,
    cluster: Any = None,
    keep: bool = False,
) -> Run:
    """Explore ``remote`` and block until done, also from a cell whose loop is running.

    The options are `Run`'s.
    """
    coro = explore(remote, store=store, policy=policy, max_depth=max_depth, on_error=on_error,
                   concurrency=concurrency, max_concurrent_content=max_concurrent_content,
                   maxsize=maxsize, download_config=download_config, keep=keep, cluster=cluster)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    import nest_asyncio2  # only where a loop already runs (a notebook cell)

    nest_asyncio2.apply(loop)
    return loop.run_until_complete(coro)
