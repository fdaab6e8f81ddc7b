"""The artifact stages: find what is stored, download the rest concurrently, store it."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any

from stagekit.download import DownloadConfig, Downloader
from stagekit.download.shared import SharedDownloader
from stagekit.errors import DownloadError, StoreError, UnitFailedError, failure_text
from stagekit.events import ArtifactFinished, UnitFinished
from stagekit.models import Artifact, DeclarativeArtifact, DeclarativeContent
from stagekit.options import OnError, Policy, check_on_error, check_policy
from stagekit.pipeline import Stage
from stagekit.storage import Store
from stagekit.storage.catalog import check_sha256
from stagekit.urls import redact_url

__all__ = ["ArtifactDownloader", "ArtifactSaver", "QueryExistingArtifacts"]

#: A download up to this size (declared by its Content-Length) is kept in memory until
#: `ArtifactSaver` writes it in its worker thread: no file is made on the loop for it.
IN_MEMORY_LIMIT = 64 * 1024

class QueryExistingArtifacts(Stage):
    """Attach artifacts the store already holds, so they are not downloaded again.

    An artifact is found by its declared sha256, or, when it declares none, through the
    catalog's record of the same unit and relative path, provided every digest it does
    declare matches and the remote did not mark it ``extra_data["mutable"]``. Under
    policy ``"metadata-only"``, a deferred artifact is looked for on disk only when the
    catalog records its digest (a metadata-only run stats no file per deferred unit).
    """

    def __init__(self, store: Store, minsize: int = 500, *,
                 stored_by_run: set[str] | None = None, policy: Policy = "immediate") -> None:
        self.store = store
        self.minsize = minsize
        self.policy = check_policy(policy)
        # Digests this run stored (shared with its ArtifactSaver): found again, they are
        # "shared within this run", not "existing" from an earlier one.
        self.stored_by_run = stored_by_run if stored_by_run is not None else set()

    async def run(self) -> None:
        """Look up each batch with one catalog query and one stat per digest."""
        async for batch in self.batches(self.minsize):
            # A batch of units without files (a crawl's pages under metadata-only)
            # costs no trip to a worker thread.
            if any(dc.d_artifacts for dc in batch):
                await asyncio.to_thread(self._attach_existing, batch)
            await self._put_batch(batch)

    def _attach_existing(self, batch: list[DeclarativeContent]) -> None:
        store = self.store
        deferring = self.policy == "metadata-only"
        # One pass over the batch: the declared digests, those of deferred files under
        # metadata-only, and the units with a file known only through the catalog's link.
        wanted: set[str] = set()
        deferred: set[str] = set()
        by_link: list[DeclarativeContent] = []
        for dc in batch:
            linked = False
            for da in dc.d_artifacts:
                if da.artifact is not None:
                    continue
                sha256 = da.digests.get("sha256")
                if sha256 is None:
                    linked = linked or not da.extra_data.get("mutable")
                    continue
                wanted.add(sha256)
                if deferring and da.deferred:
                    deferred.add(sha256)
            if linked:
                by_link.append(dc)
        missing: set[str] = set()
        if deferred:
            for digest in deferred:
                check_sha256(digest)
            # This run's own files may not be catalogued yet: those are still stat'ed.
            uncatalogued = (deferred - store.catalog.artifact_rows(deferred).keys()
                            - self.stored_by_run)
            missing |= uncatalogued
            wanted -= uncatalogued
        if wanted:
            missing |= store.missing(wanted)
        known = store.catalog.existing_contents([dc.key for dc in by_link]) if by_link else {}
        if not known and wanted <= missing:
            return  # nothing to attach (a metadata-only run's new units): no second pass
        for dc in batch:
            stored = known.get(dc.key, {}).get("artifacts", {})
            for da in dc.d_artifacts:
                if da.artifact is not None:
                    continue
                link = stored.get(da.relative_path)
                sha256 = da.digests.get("sha256") or _matching_link(da, link)
                if sha256 is None or sha256 in missing:
                    continue
                path = store.artifact_path(sha256)
                if "sha256" not in da.digests and not path.exists():
                    continue
                size = da.size if da.size is not None else path.stat().st_size
                da.artifact = Artifact(sha256, size, {**da.digests, "sha256": sha256}, path)
                da.status = "shared" if sha256 in self.stored_by_run else "existing"


def _matching_link(da: DeclarativeArtifact, link: dict[str, Any] | None) -> str | None:
    if not link or not link.get("sha256") or da.extra_data.get("mutable"):
        return None
    recorded = link.get("digests") or {}
    if any(recorded.get(algorithm) != value for algorithm, value in da.digests.items()):
        return None
    if da.size is not None and link.get("size") not in (None, da.size):
        return None
    return str(link["sha256"])


class ArtifactDownloader(Stage):
    """Download the missing artifacts of up to ``max_concurrent_content`` units at once.

    Units with nothing to download overtake the others (output is in completion order).
    A unit with a failed artifact keeps its good ones in the store and fails: under
    ``on_error="continue"`` its future gets the error and the run goes on, under
    ``"abort"`` the error stops the pipeline. Deferred artifacts are not fetched under
    policy ``"metadata-only"``.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_concurrent_content: int = 200,
        policy: Policy = "immediate",
        on_error: OnError = "continue",
        downloader: Downloader | SharedDownloader | None = None,
        config: DownloadConfig | None = None,
    ) -> None:
        if max_concurrent_content < 1:
            raise ValueError(f"max_concurrent_content must be >= 1, got {max_concurrent_content}")
        self.store = store
        self.max_concurrent_content = max_concurrent_content
        self.policy = check_policy(policy)
        self.on_error = check_on_error(on_error)
        # What later stages did not store is removed in `cleanup`.
        self._shared = (downloader if isinstance(downloader, SharedDownloader) else
                        SharedDownloader(config, tmp_root=store.tmp_dir, downloader=downloader))
        self.in_flight: set[asyncio.Task[DeclarativeContent | None]] = set()
        self._held: tuple[DeclarativeContent, list[DeclarativeArtifact]] | None = None
        self._putting = False

    @property
    def busy(self) -> bool:
        """Units are downloading or being handed on."""
        return bool(self.in_flight) or self._held is not None or self._putting

    def wanted(self, dc: DeclarativeContent) -> list[DeclarativeArtifact]:
        """The artifacts of ``dc`` to fetch now; marks deferred ones under metadata-only."""
        todo = []
        for da in dc.d_artifacts:
            if da.artifact is not None or da.download is not None:
                continue
            if da.deferred and self.policy == "metadata-only":
                da.status = "deferred"
                continue
            todo.append(da)
        return todo

    async def run(self) -> None:
        """Take units while below the limit; hand each on once its downloads are done."""
        async with self._shared.use() as downloader:
            await self._loop(downloader)

    def cleanup(self) -> None:
        """Remove the downloads no later stage stored (the pipeline stopped early)."""
        self._shared.cleanup()

    async def _loop(self, downloader: Downloader) -> None:
        in_flight = self.in_flight
        limit = self.max_concurrent_content
        getter: asyncio.Future[Any] | None = None
        # Tasks and the getter report here when done: waiting for the next one costs one
        # future, not a callback added to and removed from every task in flight (with
        # 200 units in flight, `asyncio.wait` per wake-up was a tenth of the loop's time).
        finished: deque[asyncio.Future[Any]] = deque()
        wake: list[asyncio.Future[None]] = []
        loop = asyncio.get_running_loop()

        def on_done(future: asyncio.Future[Any]) -> None:
            finished.append(future)
            if wake and not wake[0].done():
                wake[0].set_result(None)

        def start(dc: DeclarativeContent, todo: list[DeclarativeArtifact]) -> None:
            task = asyncio.create_task(self._fetch_unit(downloader, dc, todo))
            task.add_done_callback(on_done)
            in_flight.add(task)

        def admit(dc: DeclarativeContent, ready: list[DeclarativeContent]) -> None:
            """Start ``dc``'s downloads, hold it for a free slot, or add it to ``ready``
            (nothing to download: it is handed on as it is)."""
            todo = self.wanted(dc)
            if not todo:
                ready.append(dc)
            elif len(in_flight) < limit:
                start(dc, todo)
            else:
                self._held = (dc, todo)

        try:
            while True:
                if self._held is not None and len(in_flight) < limit:
                    held, self._held = self._held[0], None
                    passed: list[DeclarativeContent] = []
                    admit(held, passed)
                    for unit in passed:
                        await self._hand_on(unit)
                # Take what is queued without a task per unit; the units with nothing
                # to download are handed on together (one queue entry). One unit may
                # wait for a free slot; the units behind it wait with it.
                ready: list[DeclarativeContent] = []
                while getter is None and self._held is None and self.has_queued():
                    dc = self.next_queued()
                    if dc is not None:
                        admit(dc, ready)
                if ready:
                    await self._hand_on_many(ready)
                if getter is None and not self._input_done and self._held is None:
                    getter = asyncio.ensure_future(self.next_item())
                    getter.add_done_callback(on_done)
                if not finished:
                    if not in_flight and getter is None:
                        return
                    wake.append(loop.create_future())
                    try:
                        await wake[0]
                    finally:
                        wake.clear()
                # Counted as busy until handed on: the stall check relies on it.
                self._putting = True
                try:
                    units: list[DeclarativeContent] = []
                    while finished:
                        task = finished.popleft()
                        if task is getter:
                            getter = None
                            if (dc := task.result()) is not None:
                                admit(dc, units)
                            continue
                        in_flight.discard(task)
                        if (dc := task.result()) is not None:
                            units.append(dc)
                    if units:
                        await self._put_batch(units)
                finally:
                    self._putting = False
        finally:
            pending = [*in_flight, *([getter] if getter is not None else [])]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            in_flight.clear()

    async def _hand_on_many(self, units: list[DeclarativeContent]) -> None:
        self._putting = True
        try:
            await self._put_batch(units)
        finally:
            self._putting = False

    async def _hand_on(self, dc: DeclarativeContent) -> None:
        self._putting = True
        try:
            await self.put(dc)
        finally:
            self._putting = False

    async def _fetch_unit(
        self, downloader: Downloader, dc: DeclarativeContent, todo: list[DeclarativeArtifact]
    ) -> DeclarativeContent | None:
        results: list[BaseException | None]
        if len(todo) == 1:  # the usual unit: no task and no gather for its one file
            try:
                await self._fetch_one(downloader, todo[0])
                results = [None]
            except Exception as exc:
                results = [exc]
        else:
            results = await asyncio.gather(
                *(self._fetch_one(downloader, da) for da in todo), return_exceptions=True
            )
        failed = [(da, r) for da, r in zip(todo, results, strict=True) if isinstance(r, Exception)]
        if not failed:
            return dc
        for da, error in failed:
            da.status, da.error = "failed", error
        # Keep what did arrive: nothing fetched is lost because a sibling failed.
        await asyncio.to_thread(_commit, self.store, [da for da in todo if da.download])
        error = _unit_error(dc, failed, len(todo))
        self._report_failure(dc, error)
        if self.on_error == "abort":
            raise error
        dc.fail(error)
        return None

    async def _fetch_one(self, downloader: Downloader, da: DeclarativeArtifact) -> None:
        try:
            # A small file stays in memory until ArtifactSaver's worker thread writes it:
            # no file made on the loop per download.
            result = await downloader.fetch(
                da.urls, expected_digests=da.digests, expected_size=da.size,
                headers=da.extra_data.get("headers"), in_memory=IN_MEMORY_LIMIT,
            )
        except DownloadError as exc:
            da.tries = exc.tries
            raise
        da.download = result
        da.tries = result.tries

    def _report_failure(self, dc: DeclarativeContent, error: UnitFailedError) -> None:
        events = self.events
        if not events.active:
            return
        for da in dc.d_artifacts:
            events.emit(_artifact_event(dc, da))
        events.emit(UnitFinished(dc.key, "failed", failure_text(error)))


def _unit_error(
    dc: DeclarativeContent, failed: Sequence[tuple[DeclarativeArtifact, BaseException]],
    total: int
) -> UnitFailedError:
    da, first = failed[0]
    url = getattr(first, "url", None) or redact_url(da.url)
    # Say it once: a download error already names its URL, the row or line names the unit.
    cause = str(first) if getattr(first, "url", None) else f"{url}: {first}"
    if total > 1:
        names = ", ".join(d.relative_path for d, _ in failed)
        cause = f"{len(failed)} of {total} artifacts failed ({names}); {cause}"
    error = UnitFailedError(cause, unit_key=dc.key, url=url)
    error.__cause__ = first
    return error


def _commit(store: Store, artifacts: list[DeclarativeArtifact]) -> None:
    items = []
    for da in artifacts:
        result = da.download
        digests = {k: v for k, v in result.digests.items() if k != "sha256"}
        try:  # a body held in memory is written here, in the store's worker thread
            temp = result.ensure_file()
        except OSError as exc:
            raise StoreError(f"cannot write {result.url} to {result.temp_path}: {exc}") from exc
        items.append((temp, result.digests["sha256"], result.size, digests))
    for da, artifact in zip(artifacts, store.commit_many(items), strict=True):
        da.artifact = artifact
        da.download = None
        da.status = "downloaded"


def _commit_new(store: Store, artifacts: list[DeclarativeArtifact]) -> set[str]:
    """`_commit`; returns the digests the store held before (one stat each)."""
    held = {da.download.digests["sha256"] for da in artifacts
            if store.has(da.download.digests["sha256"], da.download.size)}
    _commit(store, artifacts)
    return held


def _artifact_event(dc: DeclarativeContent, da: DeclarativeArtifact) -> ArtifactFinished:
    artifact = da.artifact
    return ArtifactFinished(
        dc.key,
        da.relative_path,
        redact_url(da.url),
        artifact.size if artifact is not None else da.size,
        artifact.sha256 if artifact is not None else da.digests.get("sha256"),
        da.status or ("deferred" if da.deferred else "failed"),
        None if da.error is None else str(da.error),
        da.tries,
        bool(da.digests) or da.status in ("existing", "shared"),
    )


_END_OF_BATCHES: Any = object()


class _Commit:
    """One batch of `ArtifactSaver` on its way into the store."""

    __slots__ = ("batch", "downloads", "task")

    def __init__(self, batch: list[DeclarativeContent], store: Store) -> None:
        self.batch = batch
        self.downloads = [da for dc in batch for da in dc.d_artifacts if da.download is not None]
        self.task: asyncio.Future[set[str]]
        if self.downloads:
            self.task = asyncio.ensure_future(asyncio.to_thread(_commit_new, store,
                                                                self.downloads))
        else:
            self.task = asyncio.get_running_loop().create_future()
            self.task.set_result(set())


class ArtifactSaver(Stage):
    """Move verified downloads into the store (atomic renames, off the loop), report them.

    Up to ``depth`` batches are committed at once, each in a worker thread: the next
    batch's files are written while the previous one waits for its flushes (a flush of
    a busy disk takes tens of milliseconds, twice per batch). Batches are handed on in
    the order they came, each once its own files are durable.
    """

    def __init__(self, store: Store, minsize: int = 50, *,
                 stored_by_run: set[str] | None = None, depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.store = store
        self.minsize = minsize
        self.depth = depth
        self.stored_by_run = stored_by_run if stored_by_run is not None else set()
        self._committing: deque[_Commit] = deque()

    @property
    def busy(self) -> bool:
        """Batches are being committed (their units are in no queue meanwhile)."""
        return bool(self._committing)

    async def run(self) -> None:
        """Commit batches in worker threads, then pass their units on, in order."""
        committing = self._committing
        batches = aiter(self.batches(self.minsize))
        getter: asyncio.Future[Any] | None = None
        ended = False
        try:
            while True:
                if getter is None and not ended and len(committing) < self.depth:
                    getter = asyncio.ensure_future(anext(batches, _END_OF_BATCHES))
                if getter is None and not committing:
                    return
                waiting = [getter] if getter is not None else []
                if committing:
                    waiting.append(committing[0].task)
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if committing and committing[0].task.done():
                    await self._hand_on(committing.popleft())
                if getter is not None and getter.done():
                    batch, getter = getter.result(), None
                    if batch is _END_OF_BATCHES:
                        ended = True
                    else:
                        committing.append(_Commit(batch, self.store))
        except asyncio.CancelledError:
            # A thread cannot be stopped: what reached the store is counted, then stop.
            await self._settle(committing)
            raise
        finally:
            if getter is not None:
                getter.cancel()
                await asyncio.gather(getter, return_exceptions=True)
            await self._settle(committing)

    async def _hand_on(self, commit: _Commit) -> None:
        held = commit.task.result()  # a store error stops the pipeline, as it should
        self._mark_known(commit.downloads, held)
        events = self.events
        if events.active:
            for dc in commit.batch:
                for da in dc.d_artifacts:
                    events.emit(_artifact_event(dc, da))
        await self._put_batch(commit.batch)

    async def _settle(self, committing: deque[_Commit]) -> None:
        """Wait for the commits still in their threads, even if cancelled meanwhile, and
        report the files they stored (then re-raise a cancellation)."""
        cancelled = False
        while committing:
            commit = committing.popleft()
            while not commit.task.done():
                try:
                    await asyncio.wait({commit.task})
                except asyncio.CancelledError:
                    cancelled = True
            if commit.task.cancelled() or commit.task.exception() is not None:
                continue
            self._mark_known(commit.downloads, commit.task.result())
            events = self.events
            if events.active:
                for dc in commit.batch:
                    for da in dc.d_artifacts:
                        if da.artifact is not None:
                            events.emit(_artifact_event(dc, da))
        if cancelled:
            raise asyncio.CancelledError

    def _mark_known(self, downloads: list[DeclarativeArtifact], held: set[str]) -> None:
        """Files the store held already are not "downloaded": "shared" when this run
        stored them (two units fetched one blob at once), "existing" when an earlier run
        did (a moving file fetched again, unchanged). Bytes count once per new file."""
        stored = self.stored_by_run
        for da in downloads:
            if da.artifact is None:
                continue
            sha256 = da.artifact.sha256
            if sha256 in stored:
                da.status = "shared"
            elif sha256 in held:
                da.status = "existing"
            else:
                stored.add(sha256)
