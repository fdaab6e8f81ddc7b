"""Recording a parent's new leaves in bulk, without sending each through the stages.

A remote that reads tens of thousands of leaves from one parent (a Debian Packages
index) under ``policy="metadata-only"``, every file of each declared deferred with its
sha256, sends each leaf through the stages only for them to find nothing to fetch: the
file is deferred, the unit's rows saved, three events per unit recorded. For such
leaves `record_leaves` does what the stages would do, a chunk at a time: the engine
takes them as it takes any leaf (a unit this run found already is only linked), their
files get the status the stages would give them (``deferred``), their catalog rows are
the ones `stagekit.stages.content.ContentSaver` writes
(`stagekit.storage._declared.declared_rows`), saved with their edges in one transaction
off the loop, and the run's records keep them as blocks (`stagekit.events.KnownBlock`)
whose rows are read back from the catalog when somebody asks for them.

A leaf the stages could treat otherwise is handed back for the remote to yield as usual:
one with a file not deferred or without a sha256, or without files; one with a file
whose digest the catalog knows or this run stored (the stages then look for it in the
store: it may be ``existing`` or ``shared``); and every leaf under another policy, or in
a pipeline whose engine cannot take leaves in bulk.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from stagekit.events import EventBus, KnownBlock, KnownUnitsFinished, KnownUnitsFound
from stagekit.known import KnownLeaves
from stagekit.models import DeclarativeContent
from stagekit.options import Policy
from stagekit.storage import Store

__all__ = ["LeafRecorder"]


def _eligible(dc: DeclarativeContent, kind: str, relation: str) -> bool:
    """Whether every file of ``dc`` is deferred with a sha256 (and it has one at least)."""
    artifacts = dc.d_artifacts
    if not artifacts or dc.content.kind != kind or dc.relation != relation:
        return False
    for da in artifacts:
        if not da.deferred or da.artifact is not None or "sha256" not in da.digests:
            return False
    return True


def _save(store: Store, run_id: int, batch: list[DeclarativeContent], parent_key: str,
          relation: str) -> None:
    store.catalog.save_declared(run_id, batch, ["deferred"] * len(batch),
                                edges=[(parent_key, dc.key, relation) for dc in batch])


class LeafRecorder:
    """`RunContext.record_leaves` for one run of the default pipeline."""

    def __init__(self, *, store: Store, run_id: int, policy: Policy, events: EventBus,
                 register: KnownLeaves, stored_by_run: set[str]) -> None:
        self.store = store
        self.run_id = run_id
        self.policy = policy
        self.events = events
        self.register = register
        self.stored_by_run = stored_by_run
        # One loader per parent, relation and kind: the records read a parent's blocks once.
        self._loaders: dict[tuple[str, str, str], Callable[[], Any]] = {}

    async def __call__(self, parent: DeclarativeContent, leaves: Sequence[DeclarativeContent]
                       ) -> list[DeclarativeContent]:
        """Record those of ``leaves`` (children of ``parent``, already declared by the
        remote, not yet put) that the stages would only defer and save; the others,
        in order, to be yielded."""
        from stagekit.stages._finish import to_thread_to_the_end  # stages import the engine

        if self.policy != "metadata-only" or not leaves:
            return list(leaves)
        first = leaves[0]
        kind, relation = first.content.kind, first.relation
        if relation is None:
            return list(leaves)
        chosen = [dc for dc in leaves if _eligible(dc, kind, relation)]
        digests = {da.digests["sha256"] for dc in chosen for da in dc.d_artifacts}
        # The stages look in the store for a digest the catalog knows or this run stored.
        looked_for = {d for d in digests if d in self.stored_by_run}
        if digests:
            looked_for |= (await asyncio.to_thread(self.store.catalog.artifact_rows,
                                                   digests)).keys()
        if looked_for:
            chosen = [dc for dc in chosen
                      if not any(da.digests["sha256"] in looked_for for da in dc.d_artifacts)]
        if not chosen:
            return list(leaves)
        registered = self.register(parent, [dc.identity for dc in chosen],
                                   [dc.key for dc in chosen], relation)
        if registered is None:
            return list(leaves)
        depth, new = registered
        taken = set(map(id, chosen))
        rest = [dc for dc in leaves if id(dc) not in taken]
        fresh = chosen if new is None else [dc for dc, is_new in zip(chosen, new, strict=True)
                                            if is_new]
        if not fresh:
            return rest
        for dc in fresh:
            dc.parent, dc.depth = parent, depth
            for da in dc.d_artifacts:
                da.status = "deferred"
        load = self._loader(parent.key, relation, kind)
        block = KnownBlock(parent.key, relation, kind, depth, [dc.key for dc in fresh],
                           [dc.identity[1] for dc in fresh], load)
        events = self.events
        if events.active:
            events.emit(KnownUnitsFound(block))
        _, cancelled = await to_thread_to_the_end(
            _save, self.store, self.run_id, fresh, parent.key, relation)
        # Saved even when cancelled meanwhile: reported all the same.
        block.statuses = {"deferred": len(fresh)}
        block.finished_at = time.time()
        if events.active:
            events.emit(KnownUnitsFinished(block))
        if cancelled:
            raise asyncio.CancelledError
        return rest

    def _loader(self, parent_key: str, relation: str, kind: str) -> Callable[[], Any]:
        loader = self._loaders.get((parent_key, relation, kind))
        if loader is None:
            loader = self._loaders[parent_key, relation, kind] = partial(
                self.store.catalog.known_block_rows, self.run_id, self.run_id, parent_key,
                relation, kind)
        return loader
