"""Helpers the OCI and Debian remotes share (candidates for `stagekit.remotes.base`).

- `each_completed`: run awaitables with a concurrency limit and yield results as they
  finish, owning every task (a consumer that stops early cancels the rest);
- `prefetched`: a `DeclarativeArtifact` whose verified download a remote made itself
  (to read a response header, or to pick among variants with different digests);
  `ArtifactDownloader` skips it and `ArtifactSaver` stores it like any download;
- `fail_child`: record a child unit that failed before it could be put (bad metadata,
  no usable variant) with its parent, depth and relation, as `Discovery` would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import Any, TypeVar

from stagekit.discovery import Discovery, Node
from stagekit.download.config import DownloadResult
from stagekit.events import ArtifactFinished, EdgeAdded, UnitDiscovered, UnitFinished
from stagekit.models import Content, DeclarativeArtifact, DeclarativeContent
from stagekit.urls import redact_url

__all__ = ["each_completed", "fail_child", "prefetched"]

log = logging.getLogger(__name__)

T = TypeVar("T")


async def each_completed(awaitables: Iterable[Awaitable[T]], limit: int) -> AsyncIterator[T]:
    """Yield the results of ``awaitables`` in completion order, at most ``limit`` at once.

    ``awaitables`` is consumed lazily (pass a generator to create coroutines on demand).
    An exception of one of them is raised here after the others are cancelled.
    """
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    source = iter(awaitables)
    pending: set[asyncio.Future[T]] = set()
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < limit:
                item = next(source, None)
                if item is None:
                    exhausted = True
                    break
                pending.add(asyncio.ensure_future(item))
            if not pending:
                return
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                yield task.result()
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


def prefetched(
    url: str | list[str],
    relative_path: str,
    result: DownloadResult,
    *,
    extra_data: dict[str, Any] | None = None,
) -> DeclarativeArtifact:
    """An artifact already downloaded and verified into ``result`` (a store temp file).

    The run's downloader writes into the store's temporary directory, so `ArtifactSaver`
    can move the file into the store; a remote run outside `stagekit.explore` must be
    given a downloader whose ``temp_dir`` is the store's.
    """
    da = DeclarativeArtifact(
        url,
        relative_path,
        digests={"sha256": result.digests["sha256"]},
        size=result.size,
        extra_data=extra_data,
    )
    da.download = result
    da.tries = result.tries
    return da


def fail_child(
    remote: Discovery,
    parent: Content,
    parent_dc: DeclarativeContent,
    child: Content,
    relation: str | None,
    error: Exception,
    n_artifacts: int = 1,
    artifact: DeclarativeArtifact | None = None,
) -> None:
    """Record ``child`` of ``parent`` as failed with ``error`` (raised under on_error="abort").

    ``artifact``, if given, is recorded as a failed artifact of the child.
    """
    if remote.on_error == "abort":
        raise error
    log.warning("%s", error)
    parent_node = remote.nodes.get(parent.identity)
    depth = (parent_node.depth if parent_node is not None else parent_dc.depth) + 1
    node = remote.nodes.get(child.identity)
    new = node is None
    if node is None:
        node = Node(child.key, depth, explored=True)
        remote.nodes[child.identity] = node
    edge = (parent.key, child.key, relation)
    events = remote.events
    if edge not in remote.edges:
        remote.edges.add(edge)
        if parent_node is not None:
            parent_node.children.append(node)
        if not new and events.active:
            events.emit(EdgeAdded(parent.key, child.key, relation))
    if new and events.active:
        events.emit(UnitDiscovered(child.key, child.kind, depth, parent.key, relation,
                                   n_artifacts, tuple(child.natural_key())))
        if artifact is not None:
            events.emit(ArtifactFinished(
                child.key, artifact.relative_path, redact_url(artifact.url), artifact.size,
                artifact.digests.get("sha256"), "failed", str(error), 0, bool(artifact.digests)))
        events.emit(UnitFinished(child.key, "failed", str(error)))
