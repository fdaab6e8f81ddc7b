"""Recording units an earlier run saved, without sending them through the stages again.

A remote that finds a parent unchanged since an earlier run (the same artifact digest:
a Debian Packages index the Release lists with the same sha256) can hand the run that
run's children of the parent (`stagekit.storage.Catalog.known_units`) through
`RunContext.record_known`. Each child is then recorded as a full re-run would record it:
the engine links it (a unit this run found already is only linked, as `_submit` does),
its artifacts get the status the stages would give them now (``existing`` when the store
holds the file, ``deferred`` when the policy defers it), its catalog rows are copied from
the earlier run in a few set operations, and the same events are emitted, so the run's
records, DataFrames and catalog rows equal those of a run that read the parent again.

Only leaves are recorded this way (they are not explored). When a child would need a
download (policy ``immediate`` and the file is not stored) or names an artifact without a
digest, nothing is recorded and `record_known` returns False: the remote then yields the
children as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from stagekit.events import ArtifactFinished, EventBus, UnitDiscovered, UnitFinished
from stagekit.models import DeclarativeContent
from stagekit.options import Policy
from stagekit.status import unit_status_of
from stagekit.storage import Store
from stagekit.storage._known import KnownChildren, KnownUnit

__all__ = ["KnownLeaves", "record_known"]

Identity = tuple[str, tuple[Any, ...]]
#: Registers leaves below a parent in the engine: ``(parent, [(identity, key)], relation)``
#: -> ``(depth, [whether each is new to this run])``, or None if the engine cannot.
KnownLeaves = Callable[[DeclarativeContent, Sequence[tuple[Identity, str]], str],
                       "tuple[int, list[bool]] | None"]
# Units whose outcome is worked out per batch (and events emitted per batch), so that a
# large index never holds the loop for long.
_CHUNK = 500


def _outcomes(
    store: Store, policy: Policy, units: list[KnownUnit]
) -> list[tuple[KnownUnit, str, int, list[str]]] | None:
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
    kind, relation = known.kind, known.relation
    emit = events.emit if events.active else None
    fresh: list[tuple[KnownUnit, str, int, list[str]]] = []
    depth = 0
    # Registered and announced a chunk at a time, each chunk in one go: a unit another
    # parent reaches meanwhile is then either known with its record, or not known at all.
    for start in range(0, len(outcomes), _CHUNK):
        chunk = outcomes[start:start + _CHUNK]
        registered = register(parent, [((kind, o[0].natural_key), o[0].key) for o in chunk],
                              relation)
        if registered is None:
            if start == 0:
                return False
            raise RuntimeError(f"{parent.key}: the engine stopped taking known units")
        depth, new = registered
        for outcome, is_new in zip(chunk, new, strict=True):
            if not is_new:
                continue
            fresh.append(outcome)
            if emit is not None:
                unit = outcome[0]
                emit(UnitDiscovered(unit.key, kind, depth, parent.key, relation,
                                    len(unit.artifacts), unit.natural_key))
        await asyncio.sleep(0)
    _, cancelled = await to_thread_to_the_end(store.catalog.copy_known_units, run_id, known,
                                              depth, fresh)
    if emit is not None:  # saved even when cancelled meanwhile: reported all the same
        for start in range(0, len(fresh), _CHUNK):
            for unit, status, size, statuses in fresh[start:start + _CHUNK]:
                for artifact, now in zip(unit.artifacts, statuses, strict=True):
                    emit(ArtifactFinished(unit.key, artifact.relative_path, artifact.url,
                                          artifact.size, artifact.sha256, now, None, 0, True))
                emit(UnitFinished(unit.key, status, None, size))
            if not cancelled:
                await asyncio.sleep(0)
    if cancelled:
        raise asyncio.CancelledError
    return True
