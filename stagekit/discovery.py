"""The first stage of every remote: roots, children of saved units, and when to stop.

A plugin says what the roots are and what the children of a saved unit are; `Discovery`
does the rest: it attaches futures, explores each saved unit as soon as it resolves
(many at once: a wide level is never awaited as a block), links a unit found again
instead of fetching it twice (so cycles end), keeps every unit's shortest depth, honours
``max_depth``, and ends the stream exactly when no future and no exploration is left.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stagekit.errors import UnitFailedError, failure_text
from stagekit.events import (
    ArtifactFinished,
    EdgeAdded,
    UnitDepthChanged,
    UnitDiscovered,
    UnitFinished,
)
from stagekit.models import Content, DeclarativeArtifact, DeclarativeContent
from stagekit.pipeline import Stage
from stagekit.urls import redact_url

__all__ = ["Discovery", "Node"]

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class Node:
    """What discovery remembers of one unit."""

    key: str
    depth: int
    children: list[Node] = field(default_factory=list)
    explored: bool = False
    # Kept only while the unit may still need exploring (saved but cut off by max_depth).
    saved: tuple[Content, DeclarativeContent] | None = None


class Discovery(Stage):
    """Base class of the first stage of a remote; implement `roots` and `discover`.

    ``max_depth`` limits how deep children are explored (roots are depth 0);
    ``on_error`` is ``"continue"`` (a failing `discover` fails that unit only) or
    ``"abort"`` (it stops the pipeline).
    """

    max_depth: int | None = None
    on_error: str = "continue"
    #: The run's `stagekit.download.Downloader` for metadata requests (set by `stagekit.run`).
    downloader: Any = None
    #: The run's `stagekit.storage.Store`, to reuse what an earlier run stored (set by
    #: `stagekit.run`; None in a bare pipeline).
    store: Any = None

    def __init__(self, *, max_depth: int | None = None, on_error: str = "continue") -> None:
        if max_depth is not None and max_depth < 0:
            raise ValueError(f"max_depth must be >= 0 or None, got {max_depth}")
        if on_error not in ("continue", "abort"):
            raise ValueError(f"on_error must be 'continue' or 'abort', got {on_error!r}")
        self.max_depth = max_depth
        self.on_error = on_error
        self.nodes: dict[tuple[str, tuple[Any, ...]], Node] = {}
        self.edges: set[tuple[str, str, str | None]] = set()

    # -- what a plugin implements -------------------------------------------------

    async def roots(self) -> AsyncIterator[DeclarativeContent]:
        """Yield the root units."""
        raise NotImplementedError(f"{type(self).__name__} must implement roots()")
        yield  # pragma: no cover

    async def discover(self, unit: Content, dc: DeclarativeContent) -> AsyncIterator[
        DeclarativeContent
    ]:
        """Yield the children of ``unit``, which is saved (its artifacts are readable)."""
        return
        yield  # pragma: no cover

    def has_children(self, dc: DeclarativeContent) -> bool:
        """Whether ``dc`` can have children; False spares it a future."""
        return True

    def report_failure(self, key: str, kind: str, error: BaseException) -> None:
        """Report a unit that failed before it could be put (e.g. a bad manifest line)."""
        log.warning("%s", error)
        events = self.events
        if events.active:
            events.emit(UnitDiscovered(key, kind, 0, None, None))
            events.emit(UnitFinished(key, "failed", failure_text(error)))

    def fail_child(
        self,
        parent_dc: DeclarativeContent,
        child: Content,
        relation: str | None,
        error: Exception,
        artifacts: tuple[DeclarativeArtifact, ...] = (),
    ) -> None:
        """Record ``child`` of ``parent_dc`` as failed before it could be put.

        For metadata that names a unit which cannot be declared (no usable variant, a
        stanza without a digest). It gets its node, edge and depth like any child, and
        its ``artifacts`` are reported failed. Raises ``error`` under ``on_error="abort"``.
        """
        if self.on_error == "abort":
            raise error
        log.warning("%s", error)
        parent = self.nodes.get(parent_dc.content.identity)
        depth = (parent.depth if parent is not None else parent_dc.depth) + 1
        node = self.nodes.get(child.identity)
        if node is not None:
            if parent is not None:
                self._link(parent, node, relation)
                self._lower_depth(node, depth)
            return
        key = child.key
        node = Node(key, depth, explored=True)
        self.nodes[child.identity] = node
        if parent is not None:
            parent.children.append(node)
            self.edges.add((parent.key, key, relation))
        events = self.events
        if not events.active:
            return
        events.emit(UnitDiscovered(key, child.kind, depth, parent_dc.key, relation,
                                   len(artifacts), tuple(child.natural_key())))
        for da in artifacts:
            events.emit(ArtifactFinished(
                key, da.relative_path, redact_url(da.url), da.size, da.digests.get("sha256"),
                "failed", failure_text(error), 0, bool(da.digests)))
        events.emit(UnitFinished(key, "failed", failure_text(error)))

    def annotate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add remote-specific columns to a run's unit table (default: none)."""
        return frame

    # -- results ------------------------------------------------------------------

    def depths(self) -> dict[str, int]:
        """The shortest depth found for every unit, by key."""
        return {node.key: node.depth for node in self.nodes.values()}

    # -- the stage ----------------------------------------------------------------

    async def run(self) -> None:
        """Put the roots, then the children of every saved unit, until nothing is left."""
        self.nodes = {}
        self.edges = set()
        self._active = 0  # roots and explorations running
        self._futures = 0  # futures attached and not done
        self._tasks: set[asyncio.Task[None]] = set()
        self._finished = asyncio.Event()
        self._failure: BaseException | None = None
        self._spawn(self._put_roots())
        try:
            await self._finished.wait()
        finally:
            for task in self._tasks:
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._failure is not None:
            raise self._failure

    def _spawn(self, coro: Any) -> None:
        self._active += 1
        self._idle = False
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._active -= 1
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()
            self._finished.set()
        self._check_finished()

    def _check_finished(self) -> None:
        if self._active:
            return
        if self._futures == 0:
            self._finished.set()
        else:
            self._idle = True
            if self._pipeline is not None:
                self._pipeline.check_stall()

    async def _put_roots(self) -> None:
        async for dc in self.roots():
            await self._submit(dc, None, 0)

    async def _submit(self, dc: DeclarativeContent, parent: Node | None, depth: int) -> None:
        identity = dc.content.identity
        node = self.nodes.get(identity)
        relation = dc.relation
        if node is not None:
            if parent is not None:
                self._link(parent, node, relation)
                self._lower_depth(node, depth)
            return
        key = dc.key
        node = Node(key, depth)
        self.nodes[identity] = node
        dc.depth = depth
        if parent is not None:
            parent.children.append(node)
            self.edges.add((parent.key, key, relation))
        events = self.events
        if events.active:
            parent_key = parent.key if parent is not None else None
            content = dc.content
            events.emit(
                UnitDiscovered(key, content.kind, depth, parent_key, relation,
                               len(dc.d_artifacts), tuple(content.natural_key()))
            )
        if self.has_children(dc):
            future = dc.get_or_create_future()
            self._futures += 1
            future.add_done_callback(lambda f: self._resolved(f, node, dc))
        await self.put(dc)

    def _link(self, parent: Node, node: Node, relation: str | None) -> None:
        edge = (parent.key, node.key, relation)
        if edge in self.edges:
            return
        self.edges.add(edge)
        parent.children.append(node)
        if self.events.active:
            self.events.emit(EdgeAdded(parent.key, node.key, relation))

    def _lower_depth(self, node: Node, depth: int) -> None:
        """Give ``node`` and its descendants the shorter depth; explore what was cut off."""
        if depth >= node.depth:
            return
        node.depth = depth
        queue = deque([node])
        emit = self.events.emit if self.events.active else None
        while queue:
            current = queue.popleft()
            if emit is not None:
                emit(UnitDepthChanged(current.key, current.depth))
            if current.saved is not None and self._may_explore(current):
                unit, dc = current.saved
                current.saved = None
                self._explore(current, unit, dc)
            for child in current.children:
                if current.depth + 1 < child.depth:
                    child.depth = current.depth + 1
                    queue.append(child)

    def _may_explore(self, node: Node) -> bool:
        return self.max_depth is None or node.depth < self.max_depth

    def _resolved(
        self, future: asyncio.Future[Content], node: Node, dc: DeclarativeContent
    ) -> None:
        self._futures -= 1
        if future.cancelled():
            pass
        elif future.exception() is not None:
            log.debug("unit %s failed: %s", node.key, future.exception())
        elif self._may_explore(node):
            self._explore(node, future.result(), dc)
        elif self.max_depth is not None:
            node.saved = (future.result(), dc)
        self._check_finished()

    def _explore(self, node: Node, unit: Content, dc: DeclarativeContent) -> None:
        if node.explored:
            return
        node.explored = True
        self._spawn(self._put_children(node, unit, dc))

    async def _put_children(self, node: Node, unit: Content, dc: DeclarativeContent) -> None:
        try:
            async for child in self.discover(unit, dc):
                child.parent = dc
                await self._submit(child, node, node.depth + 1)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self.on_error == "abort":
                raise
            error = UnitFailedError(
                f"discover() failed: {exc}", unit_key=node.key
            )
            error.__cause__ = exc
            log.warning("%s", error)
            dc.error = error
            if self.events.active:
                self.events.emit(UnitFinished(node.key, "failed", failure_text(error)))
