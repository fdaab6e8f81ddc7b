"""The discovery engine: the first stage of every run, wrapping a `stagekit.Remote`.

The remote says what the roots are and what the children of a saved unit are; the
engine does the rest: it attaches futures, explores each saved unit as soon as it
resolves (many at once: a wide level is never awaited as a block), links a unit found
again instead of fetching it twice (so cycles end), keeps every unit's shortest depth,
honours ``max_depth``, and ends the stream exactly when no future and no exploration is
left. Its state is its own: nothing is stored on the remote.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections import deque
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import repeat
from pathlib import Path
from typing import Any, final

from stagekit.context import RunContext
from stagekit.download.shared import SharedDownloader
from stagekit.errors import UnitFailedError, failure_text
from stagekit.events import (
    ArtifactFinished,
    EdgeAdded,
    UnitDepthChanged,
    UnitDiscovered,
    UnitFinished,
)
from stagekit.known import record_known
from stagekit.leaves import LeafRecorder
from stagekit.models import (
    Content,
    DeclarativeArtifact,
    DeclarativeContent,
    content_identity,
    content_key,
    unit_key,
)
from stagekit.options import OnError, Policy, check_policy
from stagekit.pipeline import Stage
from stagekit.remote import Remote, run_choices
from stagekit.storage import Store
from stagekit.urls import redact_url

__all__ = ["DiscoveryEngine"]

log = logging.getLogger(__name__)

_Identity = tuple[str, tuple[Any, ...]]


@dataclass(slots=True, eq=False)
class _Node:
    """What the engine remembers of one unit that may have children.

    A unit without a future (a leaf) gets no node: the engine keeps only its depth,
    under its identity, and a parent lists it by that identity.
    """

    key: str
    depth: int
    children: list[_Node | _Identity] = field(default_factory=list)
    explored: bool = False
    # Kept only while the unit may still need exploring (saved but cut off by max_depth).
    saved: tuple[Content, DeclarativeContent] | None = None
    # Kept only for a remote that revisits units reached again (see `Remote.revisit`).
    declared: DeclarativeContent | None = None
    unit: Content | None = None
    # Waiting to be settled by the next stage (`DiscoveryEngine.settle`), not a future.
    awaited: bool = False


@final
class DiscoveryEngine(Stage):
    """The first stage of a pipeline: explores ``remote`` and feeds the stages after it.

    `stagekit.default_stages` builds it; build it yourself only to put a remote in
    front of stages of your own. ``on_error`` and ``max_depth`` default to the remote's
    own settings (then ``"continue"`` and no limit). Without ``downloader`` it opens
    one for the run, writing into the store's temporary directory (or the system's,
    without a store).
    """

    def __init__(
        self,
        remote: Remote,
        *,
        store: Store | None = None,
        downloader: SharedDownloader | None = None,
        policy: Policy = "immediate",
        on_error: OnError | None = None,
        max_depth: int | None = None,
        run_id: int | None = None,
    ) -> None:
        if not isinstance(remote, Remote):
            raise TypeError(f"expected a stagekit.Remote, got {type(remote).__name__}")
        self.remote = remote
        self.name = type(remote).__name__  # progress shows the remote, not the engine
        self.store = store
        self.policy = check_policy(policy)
        self.on_error, self.max_depth = run_choices(remote, on_error, max_depth)
        if downloader is None:
            tmp_root = store.tmp_dir if store is not None else Path(tempfile.gettempdir())
            downloader = SharedDownloader(tmp_root=tmp_root)
        self._shared = downloader
        self.run_id = run_id  # lets a remote record units known from an earlier run
        self._revisits = type(remote).revisit is not Remote.revisit
        # A leaf's entry is its depth alone (most units of a wide remote are leaves).
        self._nodes: dict[_Identity, _Node | int] = {}
        self._edges: set[tuple[str, str, str | None]] = set()
        self._active = 0  # roots and explorations running
        self._futures = 0  # futures attached and not done
        self._group: asyncio.TaskGroup | None = None
        self._finished = asyncio.Event()
        self._ctx: RunContext | None = None
        #: Set by a next stage that reports each saved unit itself (`settle`) instead of
        #: resolving a future per unit: a cluster's stage, which learns of many at once.
        self.settled_by_next = False
        #: The digests this run stored, shared with the stages that look for files: set by
        #: `stagekit.stages.default_stages`, whose stages `stagekit.leaves` stands in for.
        self.stored_by_run: set[str] | None = None

    # -- the stage ----------------------------------------------------------------

    async def run(self) -> None:
        """Put the roots, then the children of every saved unit, until nothing is left."""
        self._nodes = {}
        self._edges = set()
        self._active = self._futures = 0
        self._finished = asyncio.Event()
        async with self._shared.use() as downloader:
            ctx = RunContext(downloader, self.store, self.events, self.on_error,
                             self.max_depth, self.policy, self._record_failure,
                             _record_known=partial(
                                 record_known, store=self.store, run_id=self.run_id,
                                 policy=self.policy, events=self.events,
                                 register=self._known_leaves),
                             _put_late=self._put_late,
                             _record_leaves=self._leaf_recorder())
            self._ctx = ctx
            await self.remote.open(ctx)
            try:
                try:
                    async with asyncio.TaskGroup() as group:
                        self._group = group
                        self._spawn(self._put_roots(ctx))
                        await self._finished.wait()
                except BaseExceptionGroup as group_error:
                    raise _first(group_error) from None
                finally:
                    self._group = None
            finally:
                await self.remote.close()

    def cleanup(self) -> None:
        """Remove the temporary folder of a downloader the engine opened itself."""
        self._shared.cleanup()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        assert self._group is not None
        self._active += 1
        self._idle = False
        task = self._group.create_task(coro)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._active -= 1
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

    async def _put_roots(self, ctx: RunContext) -> None:
        declare, put, put_at_once = self._declare, self.put, self._put_at_once
        async for dc in self.remote.roots(ctx):
            if declare(dc, None, 0) and not put_at_once(dc):
                await put(dc)

    async def _submit(self, dc: DeclarativeContent, parent: _Node | None, depth: int) -> None:
        """Declare ``dc`` and put it on, unless it was known already."""
        if self._declare(dc, parent, depth) and not self._put_at_once(dc):
            await self.put(dc)

    def _declare(self, dc: DeclarativeContent, parent: _Node | None, depth: int) -> bool:
        """Record ``dc`` (found below ``parent`` at ``depth``); True when it is new and
        must be put on, False when it was known (then it is only linked)."""
        identity = dc.identity
        nodes = self._nodes
        known = nodes.get(identity)
        relation = dc.relation
        if known is not None:
            self._found_again(identity, known, parent, relation, depth)
            if type(known) is _Node and known.declared is not None:
                self._revisit(known, known.declared, dc)
            return False
        key = dc.key
        dc.depth = depth
        # A revisiting remote may widen any unit later, so each keeps a full node then.
        futured = self.remote.has_children(dc)
        node: _Node | None = None
        if futured or self._revisits:
            node = _Node(key, depth)
            if self._revisits:
                node.declared = dc
            nodes[identity] = node
        else:
            nodes[identity] = depth
        if parent is not None:
            parent.children.append(node if node is not None else identity)
            self._edges.add((parent.key, key, relation))
        events = self.events
        if events.active:
            events.emit(UnitDiscovered(
                key, dc.content.kind, depth, parent.key if parent is not None else None,
                relation, len(dc.d_artifacts), identity[1]))
        if node is not None and futured:
            if self.settled_by_next:
                node.awaited = True
                self._futures += 1
                return True
            futured_node = node
            future = dc.get_or_create_future()
            self._futures += 1
            future.add_done_callback(lambda f: self._resolved(f, futured_node, dc))
        return True

    def _found_again(self, identity: _Identity, known: _Node | int, parent: _Node | None,
                     relation: str | None, depth: int) -> None:
        """Link a unit reached again to ``parent`` and give it the shorter depth."""
        if parent is None:
            return
        if isinstance(known, _Node):
            self._link(parent, known, relation)
            self._lower_depth(known, depth)
            return
        key = unit_key(*identity)
        edge = (parent.key, key, relation)
        if edge not in self._edges:
            self._edges.add(edge)
            parent.children.append(identity)
            if self.events.active:
                self.events.emit(EdgeAdded(parent.key, key, relation))
        if depth < known:
            self._nodes[identity] = depth
            if self.events.active:
                self.events.emit(UnitDepthChanged(key, depth))

    def _link(self, parent: _Node, node: _Node, relation: str | None) -> None:
        edge = (parent.key, node.key, relation)
        if edge in self._edges:
            return
        self._edges.add(edge)
        parent.children.append(node)
        if self.events.active:
            self.events.emit(EdgeAdded(parent.key, node.key, relation))

    def _lower_depth(self, node: _Node, depth: int) -> None:
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
                if self._revisits:
                    current.unit = unit
                self._explore(current, unit, dc)
            for child in current.children:
                if isinstance(child, _Node):
                    if current.depth + 1 < child.depth:
                        child.depth = current.depth + 1
                        queue.append(child)
                    continue
                leaf_depth = self._nodes[child]
                if isinstance(leaf_depth, int) and current.depth + 1 < leaf_depth:
                    self._nodes[child] = current.depth + 1
                    if emit is not None:
                        emit(UnitDepthChanged(unit_key(*child), current.depth + 1))

    def _revisit(self, node: _Node, known: DeclarativeContent, found: DeclarativeContent) -> None:
        """Explore ``node`` again when the remote says ``found`` widens what it leads to."""
        extra = self.remote.revisit(known, found)
        if extra is None:
            return
        known.extra_data = extra
        if node.explored and node.unit is not None and self._may_explore(node):
            self._spawn(self._put_children(node, node.unit, known))
        # Otherwise the unit is not explored yet, and will be with the new extra_data.

    def _may_explore(self, node: _Node) -> bool:
        return self.max_depth is None or node.depth < self.max_depth

    def _resolved(
        self, future: asyncio.Future[Content], node: _Node, dc: DeclarativeContent
    ) -> None:
        self._futures -= 1
        if future.cancelled():
            pass
        elif future.exception() is not None:
            log.debug("unit %s failed: %s", node.key, future.exception())
        elif self._may_explore(node):
            if self._revisits:
                node.unit = future.result()
            self._explore(node, future.result(), dc)
        elif self.max_depth is not None:
            node.saved = (future.result(), dc)
        self._check_finished()

    # -- settled by the next stage, in bulk (see `settled_by_next`) -----------------

    def awaits(self, dc: DeclarativeContent) -> bool:
        """Whether ``dc`` waits for `settle` (the unit may have children to explore)."""
        node = self._nodes.get(dc.identity)
        return type(node) is _Node and node.awaited

    def settle(self, units: Sequence[tuple[DeclarativeContent,
                                           list[DeclarativeContent] | BaseException | None]]
               ) -> list[DeclarativeContent]:
        """What resolving each unit's future and exploring it does, without a future or
        a task per unit.

        Per ``(dc, children)``: ``dc`` was saved (or failed: ``dc.error``); ``children``
        is what its `discover` declared where it was saved (an exception if it raised;
        None if it was not explored there, then the engine explores it as usual). The
        children are linked, deduplicated and given depths as `discover`'s are; the new
        ones come back, in order, for the caller to handle as if they had been put.
        """
        new: list[DeclarativeContent] = []
        try:
            for dc, children in units:
                self._settle_one(dc, children, new)
        finally:
            self._check_finished()
        return new

    def _settle_one(self, dc: DeclarativeContent,
                    children: list[DeclarativeContent] | BaseException | None,
                    new: list[DeclarativeContent]) -> None:
        node = self._nodes[dc.identity]
        assert type(node) is _Node and node.awaited, f"{dc.key} does not await settle()"
        node.awaited = False
        self._futures -= 1
        if dc.error is not None:
            log.debug("unit %s failed: %s", node.key, dc.error)
        elif not self._may_explore(node):
            if self.max_depth is not None:
                node.saved = (dc.content, dc)
        else:
            if self._revisits:
                node.unit = dc.content
            if children is None:
                self._explore(node, dc.content, dc)
            elif isinstance(children, BaseException):
                node.explored = True
                self._discover_failed(node, dc, children)
            elif not node.explored:
                node.explored = True
                declare, depth = self._declare, node.depth + 1
                for child in children:
                    child.parent = dc
                    if declare(child, node, depth):
                        new.append(child)

    def _discover_failed(self, node: _Node, dc: DeclarativeContent, exc: BaseException
                         ) -> None:
        if self.on_error == "abort" or not isinstance(exc, Exception):
            raise exc
        error = UnitFailedError(f"discover() failed: {exc}", unit_key=node.key)
        error.__cause__ = exc
        log.warning("%s", error)
        dc.error = error
        if self.events.active:
            self.events.emit(UnitFinished(node.key, "failed", failure_text(error)))

    def _explore(self, node: _Node, unit: Content, dc: DeclarativeContent) -> None:
        if node.explored or self._group is None:
            return
        node.explored = True
        self._spawn(self._put_children(node, unit, dc))

    async def _put_children(self, node: _Node, unit: Content, dc: DeclarativeContent) -> None:
        assert self._ctx is not None
        try:
            declare, put, put_at_once = self._declare, self.put, self._put_at_once
            async for child in self.remote.discover(self._ctx, unit, dc):
                child.parent = dc
                if declare(child, node, node.depth + 1) and not put_at_once(child):
                    await put(child)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._discover_failed(node, dc, exc)

    def _leaf_recorder(self) -> LeafRecorder | None:
        """Records new leaves in bulk, in the default pipeline of a catalogued run."""
        if self.store is None or self.run_id is None or self.stored_by_run is None:
            return None
        return LeafRecorder(store=self.store, run_id=self.run_id, policy=self.policy,
                            events=self.events, register=self._known_leaves,
                            stored_by_run=self.stored_by_run)

    def _known_leaves(self, parent_dc: DeclarativeContent, identities: Sequence[_Identity],
                      keys: Sequence[str], relation: str | None
                      ) -> tuple[int, list[bool] | None] | None:
        """Take leaves an earlier run found below ``parent_dc`` (`stagekit.known`) as
        `_submit` takes a leaf, without putting them; their depth and which are new
        (None: all of them)."""
        parent = self._nodes.get(parent_dc.identity)
        if type(parent) is not _Node or self._revisits:
            return None
        depth, nodes = parent.depth + 1, self._nodes
        # In C loops where they are all new (the usual case): an index has tens of
        # thousands of them.
        new = None if nodes.keys().isdisjoint(identities) else [
            identity not in nodes for identity in identities]
        if new is None:
            fresh, fresh_keys = identities, keys
        else:
            fresh = [identity for identity, is_new in zip(identities, new, strict=True)
                     if is_new]
            fresh_keys = [key for key, is_new in zip(keys, new, strict=True) if is_new]
        nodes.update(dict.fromkeys(fresh, depth))
        parent.children.extend(fresh)
        self._edges.update(zip(repeat(parent.key), fresh_keys, repeat(relation)))
        if new is not None:
            for identity, is_new in zip(identities, new, strict=True):
                if not is_new:
                    self._found_again(identity, nodes[identity], parent, relation, depth)
        return depth, new

    def _put_late(self, dc: DeclarativeContent, parent_dc: DeclarativeContent | None) -> None:
        """Put ``dc`` under ``parent_dc`` (RunContext.declare) as its discover would."""
        parent: _Node | None = None
        if parent_dc is not None:
            entry = self._nodes.get(parent_dc.identity)
            if type(entry) is not _Node:
                raise ValueError(f"declare(): parent {parent_dc.key} was not put in this run")
            parent = entry
            dc.parent = parent_dc
        self._spawn(self._submit(dc, parent, parent.depth + 1 if parent is not None else 0))

    # -- failures reported by the remote (through RunContext.fail) -----------------

    def _record_failure(
        self,
        error: Exception,
        unit: Content | None,
        named: tuple[str, str] | None,
        parent_dc: DeclarativeContent | None,
        relation: str | None,
        artifacts: Sequence[DeclarativeArtifact],
    ) -> None:
        log.warning("%s", error)
        if unit is not None:
            key, kind, identity = content_key(unit), unit.kind, content_identity(unit)
            natural: tuple[Any, ...] = tuple(unit.natural_key())
        else:
            assert named is not None
            key, kind = named
            identity, natural = (kind, (key,)), ()
        entry = self._nodes.get(parent_dc.identity) if parent_dc is not None else None
        # Only a unit with a future has children: a leaf's entry is never a parent.
        parent = entry if type(entry) is _Node else None
        depth = 0
        if parent_dc is not None:
            depth = (parent.depth if parent is not None else parent_dc.depth) + 1
        known = self._nodes.get(identity)
        if known is not None:
            self._found_again(identity, known, parent, relation, depth)
            return
        node = _Node(key, depth, explored=True)
        self._nodes[identity] = node
        if parent is not None:
            parent.children.append(node)
            self._edges.add((parent.key, key, relation))
        events = self.events
        if not events.active:
            return
        events.emit(UnitDiscovered(key, kind, depth, parent.key if parent else None, relation,
                                   len(artifacts), natural))
        for da in artifacts:
            events.emit(ArtifactFinished(
                key, da.relative_path, redact_url(da.url), da.size, da.digests.get("sha256"),
                "failed", failure_text(error), 0, bool(da.digests)))
        events.emit(UnitFinished(key, "failed", failure_text(error)))


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf of ``group`` (a stage raises the remote's own error, not a group)."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error

