"""Recording units an earlier run saved, without sending them through the stages again.

A remote that finds a parent unchanged since an earlier run (the same artifact digest:
a Debian Packages index the Release lists with the same sha256) can hand the run that
run's children of the parent (`stagekit.storage.Catalog.known_units`) through
`RunContext.record_known`. They are recorded as a full re-run would record them: the
engine links them (a unit this run found already is only linked, as `_submit` does),
their artifacts get the status the stages would give them now (``existing`` when the
store holds the file, ``deferred`` when the policy defers it), and their catalog rows
and edges are copied from the earlier run in a few set operations. The run's records
keep them as blocks (`stagekit.events.KnownBlock`: keys, depth, counts per status) and
read their rows back from the catalog only when asked, so nothing is done per unit
beyond linking it in the engine; the results equal those of a run that read the parent
again.

Only leaves are recorded this way (they are not explored). When a child would need a
download (policy ``immediate`` and the file is not stored) or names an artifact without a
digest, nothing is recorded and `record_known` returns False: the remote then yields the
children as usual.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from itertools import repeat
from typing import Any

from stagekit.events import EventBus, KnownBlock, KnownUnitsFinished, KnownUnitsFound
from stagekit.models import DeclarativeContent
from stagekit.options import Policy
from stagekit.status import unit_status_of
from stagekit.storage import Store
from stagekit.storage._known import KnownChildren, KnownUnit

__all__ = ["KnownLeaves", "record_known"]

Identity = tuple[str, tuple[Any, ...]]
#: Registers leaves below a parent in the engine: ``(parent, identities, keys, relation)``
#: -> ``(depth, [whether each is new to this run] or None when all are)``, or None if the
#: engine cannot.
KnownLeaves = Callable[[DeclarativeContent, Sequence[Identity], Sequence[str], str],
                       "tuple[int, list[bool] | None] | None"]
# Units registered per loop turn (each chunk is one block), so that a large index never
# holds the loop for long.
_CHUNK = 5000

Outcome = tuple[KnownUnit, str, int, list[str]]


def _outcomes(store: Store, policy: Policy, units: list[KnownUnit]) -> list[Outcome] | None:
    """Each unit with its status, size and artifact statuses in this run, as the stages
    would set them (`stagekit.stages.artifacts.QueryExistingArtifacts`); None if a unit
    would need a download or has an artifact without a digest."""
    deferring = policy == "metadata-only"
    deferred: set[str] = set()
    wanted: set[str] = set()
    for unit in units:
        for artifact in unit.artifacts:
            if artifact.sha256 is None:
                return None
            (deferred if deferring and artifact.deferred else wanted).add(artifact.sha256)
    # Under metadata-only a deferred file is looked for only when the catalog knows it.
    if deferred:
        wanted |= deferred & store.catalog.artifact_rows(deferred).keys()
    held = wanted - store.missing(wanted) if wanted else set()
    outcomes = []
    for unit in units:
        statuses, size = [], 0
        for artifact in unit.artifacts:
            if artifact.sha256 in held:
                statuses.append("existing")
                size += artifact.size or 0
            elif deferring and artifact.deferred:
                statuses.append("deferred")
            else:
                return None
        outcomes.append((unit, unit_status_of(statuses, known_before=True), size, statuses))
    return outcomes


async def record_known(
    parent: DeclarativeContent, known: KnownChildren, *, store: Store | None,
    run_id: int | None, policy: Policy, events: EventBus, register: KnownLeaves,
) -> bool:
    """Record ``known`` (leaves below ``parent``) in run ``run_id``; False (nothing
    recorded) when it cannot be done exactly as the stages would do it."""
    from stagekit.stages._finish import to_thread_to_the_end  # stages import the engine

    if store is None or run_id is None:
        return False
    outcomes = await asyncio.to_thread(_outcomes, store, policy, known.units)
    if outcomes is None:
        return False
    kind, relation, keys = known.kind, known.relation, known.keys
    load = partial(store.catalog.known_block_rows, run_id, known.run_id, known.parent_key,
                   relation, kind)
    blocks: list[tuple[KnownBlock, Sequence[int]]] = []  # with the indexes of their units
    depth = 0
    # Registered and announced a chunk at a time, each chunk in one go: a unit another
    # parent reaches meanwhile is then either known with its record, or not known at all.
    for start in range(0, len(keys), _CHUNK):
        end = min(start + _CHUNK, len(keys))
        natural_keys = known.natural_keys[start:end]
        registered = register(parent, list(zip(repeat(kind), natural_keys)),
                              keys[start:end], relation)
        if registered is None:
            if start == 0:
                return False
            raise RuntimeError(f"{parent.key}: the engine stopped taking known units")
        depth, new = registered
        taken: Sequence[int]
        if new is None:
            taken = range(start, end)
            block = KnownBlock(parent.key, relation, kind, depth, keys[start:end],
                               natural_keys, load)
        else:
            taken = [i for i, is_new in zip(range(start, end), new, strict=True) if is_new]
            block = KnownBlock(parent.key, relation, kind, depth, [keys[i] for i in taken],
                               [known.natural_keys[i] for i in taken], load)
        if taken:
            blocks.append((block, taken))
            if events.active:
                events.emit(KnownUnitsFound(block))
        await asyncio.sleep(0)
    now = {outcome[0].key: outcome for outcome in outcomes}  # worked out per unit
    fresh = [now[key] for block, _ in blocks for key in block.keys if key in now] if now else []
    _, cancelled = await to_thread_to_the_end(
        store.catalog.copy_known_units, run_id, known, depth, fresh)
    # Saved even when cancelled meanwhile: reported all the same.
    copied, finished_at = known.copied, time.time()
    for block, indexes in blocks:
        if now:
            statuses = Counter(now[keys[i]][1] if keys[i] in now else copied[i]
                               for i in indexes)
        elif isinstance(indexes, range):
            statuses = Counter(copied[indexes.start:indexes.stop])
        else:
            statuses = Counter(copied[i] for i in indexes)
        block.statuses = dict(statuses)
        block.finished_at = finished_at
        if events.active:
            events.emit(KnownUnitsFinished(block))
    if cancelled:
        raise asyncio.CancelledError
    return True
