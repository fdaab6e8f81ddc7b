"""The worker side: run a remote's `discover` on a batch of saved units, in a Dask worker.

Each worker process keeps one event loop in a thread, and per run (a token) the remote,
opened once with a worker-side `RunContext`: its own downloader, the run's store opened
from its spec (same folder, catalog and object store as the coordinator's), an event bus
nobody listens to, and a ``fail`` that records what the remote reports so the coordinator
can replay it. What goes back is small: the children each unit declared, and failures.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import pickle
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stagekit.cluster._claims import Claims, owner_of, status_of
from stagekit.cluster._limits import HostGate, gated_session
from stagekit.context import RunContext
from stagekit.download import DownloadConfig, Downloader
from stagekit.errors import PipelineError
from stagekit.events import EventBus
from stagekit.models import Artifact, Content, DeclarativeArtifact, DeclarativeContent
from stagekit.remote import Remote
from stagekit.storage import Store

__all__ = ["StoreSpec", "cancel_run", "discover_batch", "lite_da", "lite_dc", "open_run",
           "running_batches", "shutdown_run", "worker_address"]


@dataclass(frozen=True)
class StoreSpec:
    """How a worker opens the run's store."""

    path: str
    catalog: str | None = None
    artifacts: str | None = None
    artifact_options: dict[str, Any] | None = None

    def open(self) -> Store:
        if self.artifacts is None:
            return Store(self.path, catalog=self.catalog)
        from stagekit.storage.object_store import ObjectBackedStore

        return ObjectBackedStore(self.path, catalog=self.catalog, artifacts=self.artifacts,
                                 artifact_options=self.artifact_options)


@dataclass
class _Opened:
    remote: Remote
    ctx: RunContext
    store: Store
    downloader: Downloader
    failures: list[tuple[Any, ...]] = field(default_factory=list)
    #: Digests this worker stored for the run ("shared" when a later unit needs one).
    stored_by_run: set[str] = field(default_factory=set)
    max_concurrent_content: int = 200
    session: Any = None
    gate: HostGate | None = None
    #: Children this worker declared with their artifacts, by key (see `_complete`).
    declared: dict[str, DeclarativeContent] = field(default_factory=dict)
    complete_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: The run's claims on the files it stores (None: a run without a catalog run id).
    claims: Claims | None = None


class _Runtime:
    """One event loop thread per worker process, and the runs opened in it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="stagekit-worker-loop")
        self.thread.start()
        self.runs: dict[str, _Opened] = {}
        self.lock = threading.Lock()
        #: The batches running per run, so that stopping a run cancels them at once.
        self.running: dict[str, set[concurrent.futures.Future[Any]]] = {}
        #: The runs cancelled here: a batch of theirs that arrives later does not start.
        self.stopped: set[str] = set()

    def call(self, coro: Any, token: str | None = None) -> Any:
        if token is not None and token in self.stopped:
            coro.close()
            # A batch the scheduler had sent here before the run was cancelled.
            raise PipelineError(f"run {token[:8]} was cancelled: batch not started")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        if token is None:
            return future.result()
        with self.lock:
            if token in self.stopped:
                future.cancel()
            self.running.setdefault(token, set()).add(future)
        try:
            return future.result()
        finally:
            with self.lock:
                self.running.get(token, set()).discard(future)

    def cancel(self, token: str) -> int:
        """Cancel the batches of run ``token`` running here; how many there were."""
        with self.lock:
            self.stopped.add(token)
            futures = self.running.pop(token, set())
        for future in futures:
            future.cancel()
        return len(futures)


_runtime: _Runtime | None = None
_runtime_lock = threading.Lock()


def _get_runtime() -> _Runtime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = _Runtime()
            atexit.register(_close_all)
        return _runtime


async def _open(token: str, remote_blob: bytes, spec: StoreSpec, options: dict[str, Any],
                config: DownloadConfig, gate: HostGate | None) -> _Opened:
    remote: Remote = pickle.loads(remote_blob)
    store = spec.open()
    temp = Path(tempfile.mkdtemp(prefix=f"run-{token[:8]}-", dir=store.tmp_dir))
    session = gated_session(config, gate) if gate is not None else None
    downloader = Downloader(config, temp_dir=temp, session=session)
    await downloader.__aenter__()
    failures: list[tuple[Any, ...]] = []

    def record(error: Exception, unit: Content | None, named: tuple[str, str] | None,
               parent: DeclarativeContent | None, relation: str | None,
               artifacts: Any) -> None:
        parent_key = parent.key if parent is not None else None
        failures.append((error, unit, named, parent_key, relation,
                         [lite_da(da) for da in artifacts]))

    ctx = RunContext(downloader, store, EventBus(), options["on_error"], options["max_depth"],
                     options["policy"], record)
    await remote.open(ctx)
    run_id = options.get("run_id")
    return _Opened(remote, ctx, store, downloader, failures,
                   max_concurrent_content=options.get("max_concurrent_content", 200),
                   session=session, gate=gate,
                   claims=None if run_id is None else Claims(store, run_id))


def worker_address() -> str:
    """The address of the Dask worker running this task ("" outside one)."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return ""


def _gate(token: str, options: dict[str, Any], config: DownloadConfig) -> HostGate | None:
    """The cluster-wide per-host limit, from inside a Dask task (None outside a worker)."""
    if not options.get("host_limit", True):
        return None
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None
    return HostGate(token, config.per_host, worker.scheduler, worker.loop)


def open_run(runtime: _Runtime, token: str, remote_blob: bytes, spec: StoreSpec,
             options: dict[str, Any], config: DownloadConfig) -> _Opened:
    """This worker's state for run ``token``, opened by the first batch that needs it."""
    with runtime.lock:
        opened = runtime.runs.get(token)
        if opened is None:
            gate = _gate(token, options, config)
            opened = runtime.call(_open(token, remote_blob, spec, options, config, gate))
            runtime.runs[token] = opened
    return opened


async def _discover_all(opened: _Opened, items: list[tuple[Content, DeclarativeContent]]
                        ) -> list[tuple[str, list[DeclarativeContent] | BaseException]]:
    async def one(unit: Content, dc: DeclarativeContent
                  ) -> tuple[str, list[DeclarativeContent] | BaseException]:
        try:
            # This machine's copy of each stored file (read back from an object store).
            for da in dc.d_artifacts:
                if da.artifact is not None:
                    a = da.artifact
                    path = await asyncio.to_thread(opened.store.artifact_path, a.sha256)
                    da.artifact = Artifact(a.sha256, a.size, a.digests, path)
            children = [child async for child in opened.remote.discover(opened.ctx, unit, dc)]
        except Exception as exc:
            return dc.key, exc
        return dc.key, children

    results = list(await asyncio.gather(*(one(u, d) for u, d in items)))
    async with opened.complete_lock:
        return await asyncio.to_thread(_complete, opened, results)


def discover_batch(token: str, remote_blob: bytes, spec: StoreSpec, options: dict[str, Any],
                   config: DownloadConfig, items: list[tuple[Content, DeclarativeContent]]
                   ) -> tuple[list[tuple[str, Any]], list[tuple[Any, ...]], str]:
    """Dask task: the children of each ``(unit, dc)``, the failures reported meanwhile,
    and the worker's address.

    A unit whose `discover` raised gets the exception instead of its children. Nothing
    is written by this function itself: a retried batch only repeats reads.
    """
    runtime = _get_runtime()
    opened = open_run(runtime, token, remote_blob, spec, options, config)
    results = runtime.call(_discover_all(opened, items), token)
    failures, opened.failures[:] = list(opened.failures), []
    return results, failures, worker_address()


def _complete(
    opened: _Opened, results: list[tuple[str, list[DeclarativeContent] | BaseException]]
) -> list[tuple[str, list[DeclarativeContent] | BaseException]]:
    """The children to send back: downloads stored here, and every unit declared whole.

    A remote may declare a unit with its artifacts once and as a bare link afterwards,
    counting on the engine to meet the whole one first. Across workers and batches that
    order is lost, so a bare repeat goes back as the whole declaration made here.
    """
    pending = [(child, da) for _key, children in results
               if not isinstance(children, BaseException)
               for child in children for da in child.d_artifacts if da.download is not None]
    if pending:
        _commit_claimed(opened, pending)
    for _key, children in results:
        if isinstance(children, BaseException):
            continue
        for child in children:
            if child.d_artifacts:
                opened.declared.setdefault(child.key, lite_dc(child))
    out: list[tuple[str, list[DeclarativeContent] | BaseException]] = []
    for key, children in results:
        if isinstance(children, BaseException):
            out.append((key, children))
            continue
        sent = []
        for child in children:
            whole = opened.declared.get(child.key) if not child.d_artifacts else None
            if whole is None:
                sent.append(lite_dc(child))
            else:
                sent.append(DeclarativeContent(
                    child.content, [lite_da(da) for da in whole.d_artifacts],
                    extra_data=whole.extra_data, relation=child.relation))
        out.append((key, sent))
    return out


def _commit_claimed(opened: _Opened,
                    pending: list[tuple[DeclarativeContent, DeclarativeArtifact]]) -> None:
    """Store the files children's declarations downloaded, claimed first for the run
    (one claim transaction for them all)."""
    items = []
    for _child, da in pending:
        res = da.download
        digests = {k: v for k, v in res.digests.items() if k != "sha256"}
        items.append((res.ensure_file(), res.digests["sha256"], res.size, digests))
    owners: dict[str, str] | None = None
    if opened.claims is not None:
        owners = opened.claims.claim([(item[1], item[2], owner_of(child, da))
                                      for (child, da), item in zip(pending, items, strict=True)])
    stored = opened.store.commit_many(items)
    for (child, da), artifact in zip(pending, stored, strict=True):
        da.artifact, da.download = artifact, None
        da.status = ("downloaded" if owners is None
                     else status_of(owners, artifact.sha256, owner_of(child, da)))


async def _close(opened: _Opened) -> None:
    with contextlib.suppress(Exception):
        await opened.remote.close()
    with contextlib.suppress(Exception):
        await opened.downloader.__aexit__(None, None, None)
    if opened.session is not None:
        with contextlib.suppress(Exception):
            await opened.session.close()
    if opened.gate is not None:
        opened.gate.close()
    opened.store.close()


def shutdown_run(token: str) -> bool:
    """Close what a worker opened for run ``token`` (called on every worker at the end)."""
    runtime = _runtime
    if runtime is None:
        return False
    runtime.cancel(token)
    with runtime.lock:
        opened = runtime.runs.pop(token, None)
    if opened is None:
        return False
    runtime.call(_close(opened))
    return True


def cancel_run(token: str) -> int:
    """Cancel the batches of run ``token`` running on this worker (a cancelled run)."""
    runtime = _runtime
    return 0 if runtime is None else runtime.cancel(token)


def running_batches(token: str) -> int:
    """How many batches of run ``token`` run on this worker now."""
    runtime = _runtime
    return 0 if runtime is None else len(runtime.running.get(token, ()))


def _close_all() -> None:
    if _runtime is not None:
        for token in list(_runtime.runs):
            with contextlib.suppress(Exception):
                shutdown_run(token)


def lite_da(da: DeclarativeArtifact) -> DeclarativeArtifact:
    """A copy of ``da`` that pickles: declaration, status and stored artifact only."""
    copy = DeclarativeArtifact(list(da.urls), da.relative_path, digests=da.digests,
                               size=da.size, deferred=da.deferred, extra_data=da.extra_data)
    copy.status = da.status
    copy.tries = da.tries
    if da.artifact is not None:
        a = da.artifact
        copy.artifact = Artifact(a.sha256, a.size, dict(a.digests), a.path)
    return copy


def lite_dc(dc: DeclarativeContent) -> DeclarativeContent:
    """A copy of ``dc`` that pickles: no future, no parent, artifacts as `lite_da`."""
    copy = DeclarativeContent(dc.content, [lite_da(da) for da in dc.d_artifacts],
                              extra_data=dc.extra_data, relation=dc.relation)
    copy.depth = dc.depth
    copy.status = dc.status
    return copy
