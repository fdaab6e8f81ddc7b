"""The coordinator side: a `Remote` whose `discover` runs on Dask workers, in batches.

`ClusterRemote` wraps the user's remote. The discovery engine (dedup, depth, the
stopping rule, the graph) and the pipeline stages run as always in the coordinator's
loop; only `discover` -- parsing a saved unit, fetching the metadata it needs, declaring
its children -- is sent to the workers. Calls that arrive together (the engine explores
many saved units at once) go out as one task per batch; a task whose worker dies is
retried elsewhere by Dask (``retries``), and since a batch writes nothing, a retry only
repeats reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pandas as pd

from stagekit.cluster._wire import dc_in
from stagekit.cluster._worker import (
    StoreSpec,
    cancel_run,
    discover_batch,
    lite_dc,
    shutdown_run,
)
from stagekit.context import RunContext
from stagekit.download import DownloadConfig
from stagekit.errors import ConfigurationError
from stagekit.models import Content, DeclarativeContent
from stagekit.remote import Remote

__all__ = ["ClusterRemote", "store_spec"]


def store_spec(store: Any) -> StoreSpec:
    """What a worker needs to open ``store`` itself."""
    objects = getattr(store, "objects", None)
    return StoreSpec(
        str(store.path),
        catalog=getattr(store, "catalog_spec", None),
        artifacts=None if objects is None else objects.url,
        artifact_options=None if objects is None else getattr(store, "artifact_options", None),
    )


class ClusterRemote(Remote):
    """``remote`` with its `discover` run on the workers of Dask ``client``."""

    #: Whether ``DownloadConfig.per_host`` holds across the cluster (see `_limits`).
    host_limit = True

    def __new__(cls, remote: Remote, *args: Any, **kwargs: Any) -> ClusterRemote:
        # Only a remote that revisits units gets a `revisit`: the engine keeps a whole
        # node per unit for those (see `DiscoveryEngine`), which the others do without.
        if cls is ClusterRemote and type(remote).revisit is not Remote.revisit:
            cls = _RevisitingClusterRemote
        return super().__new__(cls)

    def __init__(self, remote: Remote, client: Any, *, batch_size: int = 256,
                 batch_delay: float = 0.02, retries: int = 3,
                 download_config: DownloadConfig | None = None) -> None:
        if not remote.distributable:
            raise ConfigurationError(
                f"remote {type(remote).__name__} keeps state across units and cannot run "
                "on a cluster: explore it without cluster=")
        try:
            self._blob = pickle.dumps(remote)
        except Exception as exc:
            raise ConfigurationError(
                f"remote {type(remote).__name__} must pickle to run on a cluster: {exc}"
            ) from exc
        self.inner = remote
        # Asked once per unit the engine declares: the remote's own method, no hop.
        self.has_children = remote.has_children  # type: ignore[method-assign]
        self.client = client
        self.batch_size = batch_size
        self.batch_delay = batch_delay
        self.retries = retries
        self.download_config = download_config or DownloadConfig()
        self.max_depth = remote.max_depth
        self.on_error = remote.on_error
        self._token = ""
        self._pending: list[tuple[Content, DeclarativeContent, asyncio.Future[Any]]] = []
        self._flush_scheduled = False
        self._ctx: RunContext | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: Children a worker declared for a unit it handled whole, until the engine asks.
        self._stashed: dict[str, tuple[dict[str, Any], Any]] = {}
        self.max_depth_of_run: int | None = None
        #: The workers that ran a batch of this run: the only ones with anything to stop.
        self.workers: set[str] = set()
        self.options: dict[str, Any] = {}
        self.max_concurrent_content = 200
        #: Dask futures of the `discover`-only batches in flight (cancelled with the run).
        self.in_flight: set[Any] = set()

    # -- what `ClusterStage` uses -------------------------------------------------

    @property
    def token(self) -> str:
        return self._token

    @property
    def blob(self) -> bytes:
        return self._blob

    @property
    def store(self) -> Any:
        """The run's store (once the run opened this remote)."""
        assert self._ctx is not None, "ClusterRemote.open was not called"
        return self._ctx.store

    @property
    def revisits(self) -> bool:
        """Whether the remote may widen a unit reached again (`Remote.revisit`)."""
        return type(self.inner).revisit is not Remote.revisit

    def stash(self, dc: DeclarativeContent, children: Any) -> None:
        """Keep the children a worker found for ``dc`` (or its error) for `discover`."""
        self._stashed[dc.key] = (dict(dc.extra_data), children)

    async def result_of(self, future: Any) -> Any:
        """The result of a Dask future, with an asynchronous or a blocking client."""
        if getattr(self.client, "asynchronous", False):
            return await future
        return await asyncio.to_thread(future.result)

    async def cancel(self, futures: list[Any]) -> None:
        """Cancel Dask futures, and stop this run's batches where they already run."""
        keys = {future.key for future in futures}
        client = self.client
        if getattr(client, "asynchronous", False):
            processing = await client.processing()
            await client.cancel(futures, force=True)
        else:
            processing = await asyncio.to_thread(client.processing)
            await asyncio.to_thread(client.cancel, futures, force=True)
        self.workers.update(w for w, running in processing.items() if keys & set(running))
        await self._on_workers(cancel_run)

    async def _on_workers(self, function: Any) -> None:
        """Call ``function(token)`` on the workers that ran batches of this run.

        Only those: another worker may not have imported stagekit yet, and would take
        seconds to, just to find it has nothing to stop.
        """
        workers = sorted(w for w in self.workers if w)
        if not workers:
            return
        if getattr(self.client, "asynchronous", False):
            await self.client.run(function, self._token, workers=workers)
        else:  # a blocking client (a script): keep the loop free meanwhile
            await asyncio.to_thread(self.client.run, function, self._token, workers=workers)

    async def total_threads(self) -> int:
        """Worker threads in the cluster now (at least 1)."""
        try:
            if getattr(self.client, "asynchronous", False):
                nthreads = await self.client.scheduler.ncores()
            else:
                nthreads = await asyncio.to_thread(self.client.nthreads)
        except Exception:
            return 1
        return max(1, sum(nthreads.values()))

    def __reduce__(self) -> Any:
        raise TypeError("ClusterRemote stays in the coordinator")

    # -- delegation ---------------------------------------------------------------

    def describe(self) -> str:
        return self.inner.describe()

    def has_children(self, dc: DeclarativeContent) -> bool:
        return self.inner.has_children(dc)

    def annotate(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.inner.annotate(frame)

    async def open(self, ctx: RunContext) -> None:
        self._ctx = ctx
        self._token = uuid.uuid4().hex
        self.options = {"on_error": ctx.on_error, "max_depth": ctx.max_depth,
                        "policy": ctx.policy, "host_limit": self.host_limit,
                        "max_concurrent_content": self.max_concurrent_content}
        self.max_depth_of_run = ctx.max_depth
        self.spec = store_spec(ctx.store)
        self._stashed = {}
        self.workers = set()
        await self.inner.open(ctx)

    async def close(self) -> None:
        try:
            await self.inner.close()
        finally:
            for task in list(self._tasks):
                task.cancel()

    async def shutdown(self) -> None:
        """Close what the workers opened for this run (once its last batch is done: the
        engine may be done before `ClusterStage`, which still sends leaves)."""
        with contextlib.suppress(Exception):
            await self._on_workers(shutdown_run)

    async def roots(self, ctx: RunContext) -> AsyncIterator[DeclarativeContent]:
        async for dc in self.inner.roots(ctx):
            yield dc

    # -- discover on the workers ----------------------------------------------------

    async def discover(self, ctx: RunContext, unit: Content, dc: DeclarativeContent
                       ) -> AsyncIterator[DeclarativeContent]:
        stashed = self._stashed.pop(dc.key, None)
        if stashed is not None and stashed[0] == dc.extra_data:
            if isinstance(stashed[1], BaseException):
                raise stashed[1]
            for wire in stashed[1]:
                yield dc_in(wire)
            return
        # Not explored on its worker (cut off by max_depth then), or to be explored
        # again (a revisit changed its extra_data): `discover` alone, in a batch.
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((unit, lite_dc(dc), done))
        if len(self._pending) >= self.batch_size:
            self._flush()
        elif not self._flush_scheduled:
            # Let the units saved in the next few milliseconds join the batch: a task
            # costs the scheduler about a millisecond, a unit far less.
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(self.batch_delay, self._flush)
        result = await done
        if isinstance(result, BaseException):
            raise result
        for child in result:
            yield child

    def _flush(self) -> None:
        self._flush_scheduled = False  # a timer set before a full batch went out may find none
        batch, self._pending = self._pending, []
        while batch:
            part, batch = batch[: self.batch_size], batch[self.batch_size :]
            task = asyncio.get_running_loop().create_task(self._run_batch(part))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run_batch(
        self, part: list[tuple[Content, DeclarativeContent, asyncio.Future[Any]]]
    ) -> None:
        items = [(unit, dc) for unit, dc, _ in part]
        try:
            future = self.client.submit(
                discover_batch, self._token, self._blob, self.spec, self.options,
                self.download_config, items, retries=self.retries, pure=False)
            self.in_flight.add(future)
            # A cancelled run leaves it there, for `ClusterStage` to cancel on the cluster.
            results, failures, address = await self.result_of(future)
            self.in_flight.discard(future)
            self.workers.add(address)
        except BaseException as exc:
            if isinstance(exc, Exception):
                self.in_flight = {f for f in self.in_flight if f.status == "pending"}
            for _, _, done in part:
                if not done.done():
                    done.set_exception(exc if isinstance(exc, Exception) else
                                       RuntimeError(f"cluster task cancelled: {exc!r}"))
            if not isinstance(exc, Exception):
                raise
            return
        self.replay(failures, {dc.key: dc for _, dc, _ in part})
        by_key = dict(results)
        for _, dc, done in part:
            if not done.done():
                done.set_result(by_key.get(dc.key, []))

    def replay(self, failures: list[tuple[Any, ...]], sent: dict[str, DeclarativeContent]
                ) -> None:
        """Report on the coordinator what the remote reported on a worker."""
        ctx = self._ctx
        assert ctx is not None
        for error, unit, named, parent_key, relation, artifacts in failures:
            parent = sent.get(parent_key) if parent_key is not None else None
            key, kind = (named or (None, None))
            ctx.fail(error, unit=unit, key=key, kind=kind, parent=parent,
                     relation=relation, artifacts=artifacts)


class _RevisitingClusterRemote(ClusterRemote):
    """A `ClusterRemote` over a remote that widens units reached again."""

    def revisit(self, known: DeclarativeContent, found: DeclarativeContent) -> Any:
        return self.inner.revisit(known, found)
