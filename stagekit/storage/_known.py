"""The units an earlier run saved below a parent, and recording them again for a new run.

A re-sync that finds a parent unchanged (the same artifact digest) can take its children
from the run that explored it last, instead of reading the parent again and sending every
child through the stages. `known_units` reads them (one query, the units with their
artifacts); `copy_known_units` writes the new run's ``run_units`` and
``run_artifacts`` rows with two ``INSERT ... SELECT`` statements from the earlier run's
rows, then corrects the few whose outcome differs this time (a file the store gained or
lost since). Edges are not copied here: the run writes every edge it found when it ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from json import loads
from typing import Any

from stagekit.storage._children import EXPLORED_IN
from stagekit.storage._dialect import Db
from stagekit.storage._rows import to_json
from stagekit.storage._writes import COMPLETE_STATUSES

__all__ = ["KnownArtifact", "KnownChildren", "KnownUnit", "copy_known_units", "known_units"]

# The children (by one relation) of a parent in one run; the placeholders are, in order,
# the child kind, the run, the parent key and the relation.
_BELOW = """
FROM run_edges e
JOIN content c ON c.key = e.child_key AND c.kind = ?
JOIN run_units u ON u.run_id = e.run_id AND u.content_id = c.id
WHERE e.run_id = ? AND e.parent_key = ? AND e.relation = ?
"""
# Each child with its artifacts (NULLs for a child without any), in one pass. Whether a
# file is deferred is looked up only for one that was stored: a deferred one is.
_UNITS = """
SELECT e.child_key, c.id, c.natural_key, u.status, u.size, ra.relative_path, ra.url,
       COALESCE(ra.sha256, CASE WHEN ra.extra != '{}' THEN {declared_sha256} END), ra.size,
       ra.status,
       CASE WHEN ra.status = 'deferred' THEN 1 ELSE (
           SELECT ca.deferred FROM content_artifacts ca
           WHERE ca.content_id = c.id AND ca.relative_path = ra.relative_path) END
FROM run_edges e
LEFT JOIN content c ON c.key = e.child_key AND c.kind = ?
LEFT JOIN run_units u ON u.run_id = e.run_id AND u.content_id = c.id
LEFT JOIN run_artifacts ra ON ra.run_id = e.run_id AND ra.content_id = c.id
WHERE e.run_id = ? AND e.parent_key = ? AND e.relation = ?
"""
# A unit or artifact that was stored (downloaded, shared, existing) in the earlier run is
# "existing" now if its files are still stored; a deferred one stays deferred.
_COPY_UNITS = """
INSERT INTO run_units (run_id, content_id, depth, status, error, size, started_at,
                       finished_at, extra)
SELECT ?, u.content_id, ?, CASE WHEN u.status = 'deferred' THEN 'deferred'
                                ELSE 'existing' END, NULL, u.size, NULL, NULL, '{}'
""" + _BELOW + "ON CONFLICT DO NOTHING"
_COPY_ARTIFACTS = """
INSERT INTO run_artifacts (run_id, content_id, relative_path, url, sha256, size, status,
                           error, tries, extra)
SELECT ?, ra.content_id, ra.relative_path, ra.url, ra.sha256, ra.size,
       CASE WHEN ra.status = 'deferred' THEN 'deferred' ELSE 'existing' END, NULL, 0, ra.extra
FROM run_edges e
JOIN content c ON c.key = e.child_key AND c.kind = ?
JOIN run_units u ON u.run_id = e.run_id AND u.content_id = c.id
JOIN run_artifacts ra ON ra.run_id = e.run_id AND ra.content_id = c.id
WHERE e.run_id = ? AND e.parent_key = ? AND e.relation = ?
ON CONFLICT DO NOTHING
"""
_FIX_UNIT = "UPDATE run_units SET status = ?, size = ? WHERE run_id = ? AND content_id = ?"
_FIX_ARTIFACT = """
UPDATE run_artifacts SET sha256 = ?, status = ?, extra = ?
WHERE run_id = ? AND content_id = ? AND relative_path = ?
"""


@dataclass(frozen=True, slots=True)
class KnownArtifact:
    """An artifact of a known unit as the earlier run recorded it."""

    relative_path: str
    url: str
    sha256: str | None  # declared (a deferred file's too); None if it never had one
    size: int | None
    stored: bool  # downloaded, shared or existing in the earlier run (not deferred)
    deferred: bool  # declared deferred by the remote


@dataclass(slots=True)
class KnownUnit:
    """A child unit saved by the earlier run."""

    content_id: int
    key: str
    natural_key: tuple[Any, ...]
    status: str
    size: int | None
    artifacts: list[KnownArtifact] = field(default_factory=list)


@dataclass(slots=True)
class KnownChildren:
    """What run ``run_id`` saved below ``parent_key`` by ``relation``: ``kind`` units."""

    run_id: int
    parent_key: str
    relation: str
    kind: str
    units: list[KnownUnit]


def known_units(
    conn: Db, parent_key: str, sha256: str, remote: str, relation: str, child_kind: str
) -> KnownChildren | None:
    """The ``child_kind`` children the newest finished run of ``remote`` found below
    ``parent_key`` when it had the artifact ``sha256``, with their artifacts.

    None when there is no such run, or when a child was not saved whole in it (it
    failed, or is of another kind): a new run must find those again the same way.
    """
    row = conn.execute(EXPLORED_IN, (parent_key, sha256, remote)).fetchone()
    if row is None:
        return None
    run_id = row[0]
    where = (child_kind, run_id, parent_key, relation)
    units: dict[int, KnownUnit] = {}
    complete = COMPLETE_STATUSES
    for (key, content_id, natural_key, status, size, path, url, sha, a_size, a_status,
         deferred) in conn.execute(_UNITS, where):
        unit = units.get(content_id)
        if unit is None:
            if content_id is None or status not in complete:
                return None
            unit = units[content_id] = KnownUnit(content_id, key, tuple(loads(natural_key)),
                                                 status, size)
        if path is None:
            continue
        unit.artifacts.append(KnownArtifact(path, url or "", sha, a_size,
                                            a_status != "deferred", bool(deferred)))
    return KnownChildren(run_id, parent_key, relation, child_kind, list(units.values()))


def copy_known_units(
    conn: Db, run_id: int, known: KnownChildren, depth: int,
    units: Iterable[tuple[KnownUnit, str, int, list[str]]],
) -> None:
    """Record ``known``'s children in run ``run_id`` at ``depth``; rows this run holds
    already are kept. ``units`` gives, for the units new to this run, their status, size
    and their artifacts' statuses now (rows that differ from the copy are corrected)."""
    where = (known.kind, known.run_id, known.parent_key, known.relation)
    conn.execute(_COPY_UNITS, (run_id, depth, *where))
    conn.execute(_COPY_ARTIFACTS, (run_id, *where))
    fix_units, fix_artifacts = [], []
    for unit, status, size, statuses in units:
        copied = "deferred" if unit.status == "deferred" else "existing"
        if (status, size) != (copied, unit.size):
            fix_units.append((status, size, run_id, unit.content_id))
        for artifact, now in zip(unit.artifacts, statuses, strict=True):
            if (now == "deferred") == (not artifact.stored):
                continue
            stored = now != "deferred"
            extra = "{}" if stored or artifact.sha256 is None else to_json(
                {"declared_sha256": artifact.sha256})
            fix_artifacts.append((artifact.sha256 if stored else None, now, extra, run_id,
                                  unit.content_id, artifact.relative_path))
    if fix_units:
        conn.executemany(_FIX_UNIT, fix_units)
    if fix_artifacts:
        conn.executemany(_FIX_ARTIFACT, fix_artifacts)
