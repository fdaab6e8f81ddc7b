"""The units an earlier run saved below a parent, and recording them again for a new run.

A re-sync that finds a parent unchanged (the same artifact digest) can take its children
from the run that explored it last, instead of reading the parent again and sending every
child through the stages. `known_units` reads their keys (one query, one row per child)
and, in full with their artifacts, only the few whose outcome may differ now (a file the
store holds or must hold); `copy_known_units` writes the new run's ``run_units``,
``run_artifacts`` and ``run_edges`` rows with three ``INSERT ... SELECT`` statements from
the earlier run's rows, then corrects those few. `known_block_rows` reads the copied rows
back when a user asks for the units one by one (`stagekit.records`).
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

__all__ = ["KnownArtifact", "KnownChildren", "KnownUnit", "copy_known_units",
           "known_block_rows", "known_units"]

# One row per child saved as that kind, read from the run's units (the cheap way round:
# by rowid, then one index probe for the edge); placeholders: kind, parent, relation, run.
_KEYS = """
SELECT c.key, c.natural_key, u.status FROM run_units u
JOIN content c ON c.id = u.content_id AND c.kind = ?
JOIN run_edges e ON e.run_id = u.run_id AND e.parent_key = ? AND e.child_key = c.key
                AND e.relation = ?
WHERE u.run_id = ?
"""
_CHILDREN = "SELECT COUNT(*) FROM run_edges WHERE run_id = ? AND parent_key = ? AND relation = ?"
# An artifact's digest, declared for a deferred file (kept in ``extra``).
_DIGEST = "COALESCE(ra.sha256, CASE WHEN ra.extra != '{}' THEN {declared_sha256} END)"
# Each child whose outcome must be worked out now, with its artifacts, in one pass.
# Whether a file is deferred is looked up only for one that was stored: a deferred one is.
_UNITS = """
SELECT e.child_key, c.id, c.natural_key, u.status, u.size, ra.relative_path, ra.url,
       """ + _DIGEST + """, ra.size, ra.status,
       CASE WHEN ra.status = 'deferred' THEN 1 ELSE (
           SELECT ca.deferred FROM content_artifacts ca
           WHERE ca.content_id = c.id AND ca.relative_path = ra.relative_path) END
FROM run_edges e
JOIN content c ON c.key = e.child_key AND c.kind = ?
JOIN run_units u ON u.run_id = e.run_id AND u.content_id = c.id
JOIN run_artifacts ra ON ra.run_id = e.run_id AND ra.content_id = c.id
WHERE e.run_id = ? AND e.parent_key = ? AND e.relation = ?
"""
# Under metadata-only, a child whose files were all deferred, each with a digest the
# catalog has never stored, is deferred again without looking at the store: only the
# others are read in full. (A file stored in the earlier run is in ``artifacts``.)
# Placeholders as `_KEYS`.
_MAY_DIFFER = """
SELECT DISTINCT ra.content_id FROM run_artifacts ra
JOIN content c ON c.id = ra.content_id AND c.kind = ?
JOIN run_edges e ON e.run_id = ra.run_id AND e.parent_key = ? AND e.child_key = c.key
                AND e.relation = ?
WHERE ra.run_id = ? AND (ra.status != 'deferred' OR """ + _DIGEST + """ IS NULL
                         OR EXISTS (SELECT 1 FROM artifacts a WHERE a.sha256 = """ + _DIGEST + """))
"""
# The content ids of the children, from the edges and the key index alone (a unit's key
# starts with its kind; `known_units` has checked they are all of the kind): probing a
# list of ids costs much less than joining every row of the run to the content and the
# edges. Placeholders: the run, the parent, the relation.
_CHILD_IDS = """(SELECT c.id FROM run_edges e JOIN content c ON c.key = e.child_key
                 WHERE e.run_id = ? AND e.parent_key = ? AND e.relation = ?)"""
# A unit or artifact that was stored (downloaded, shared, existing) in the earlier run is
# "existing" now if its files are still stored; a deferred one stays deferred. No file is
# held for a unit that is not corrected afterwards, so its size is 0. Placeholders: the
# new run (and the depth), the earlier run, then as `_CHILD_IDS`.
_COPY_UNITS = """
INSERT INTO run_units (run_id, content_id, depth, status, error, size, started_at,
                       finished_at, extra)
SELECT ?, u.content_id, ?, CASE WHEN u.status = 'deferred' THEN 'deferred'
                                ELSE 'existing' END, NULL, 0, NULL, NULL, '{}'
FROM run_units u WHERE u.run_id = ? AND u.content_id IN """ + _CHILD_IDS + """
ON CONFLICT DO NOTHING
"""
_COPY_ARTIFACTS = """
INSERT INTO run_artifacts (run_id, content_id, relative_path, url, sha256, size, status,
                           error, tries, extra)
SELECT ?, ra.content_id, ra.relative_path, ra.url, ra.sha256, ra.size,
       CASE WHEN ra.status = 'deferred' THEN 'deferred' ELSE 'existing' END, NULL, 0, ra.extra
FROM run_artifacts ra WHERE ra.run_id = ? AND ra.content_id IN """ + _CHILD_IDS + """
ON CONFLICT DO NOTHING
"""
_COPY_EDGES = """
INSERT INTO run_edges (run_id, parent_key, child_key, relation)
SELECT ?, e.parent_key, e.child_key, e.relation FROM run_edges e
WHERE e.run_id = ? AND e.parent_key = ? AND e.relation = ?
ON CONFLICT DO NOTHING
"""
_FIX_UNIT = "UPDATE run_units SET status = ?, size = ? WHERE run_id = ? AND content_id = ?"
_FIX_ARTIFACT = """
UPDATE run_artifacts SET sha256 = ?, status = ?, extra = ?
WHERE run_id = ? AND content_id = ? AND relative_path = ?
"""
# The copied rows of the children in the new run (the first placeholder), read back;
# a child not copied yet has no row there (NULL status).
_BLOCK_UNITS = """
SELECT e.child_key, n.status, n.error, n.size,
       (SELECT COUNT(*) FROM run_artifacts ra WHERE ra.run_id = e.run_id
                                                AND ra.content_id = c.id)
FROM run_edges e
JOIN content c ON c.key = e.child_key AND c.kind = ?
LEFT JOIN run_units n ON n.run_id = ? AND n.content_id = c.id
WHERE e.run_id = ? AND e.parent_key = ? AND e.relation = ?
"""
_BLOCK_ARTIFACTS = """
SELECT e.child_key, ra.relative_path, ra.url, """ + _DIGEST + """, ra.size, ra.status,
       ra.error, ra.tries
FROM run_edges e
JOIN content c ON c.key = e.child_key AND c.kind = ?
JOIN run_artifacts ra ON ra.run_id = ? AND ra.content_id = c.id
WHERE e.run_id = ? AND e.parent_key = ? AND e.relation = ?
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
    """A child unit saved by the earlier run, with its artifacts."""

    content_id: int
    key: str
    natural_key: tuple[Any, ...]
    status: str
    size: int | None
    artifacts: list[KnownArtifact] = field(default_factory=list)


@dataclass(slots=True)
class KnownChildren:
    """What run ``run_id`` saved below ``parent_key`` by ``relation``: ``kind`` units.

    ``keys``, ``natural_keys`` and ``copied`` (the status the copy gives each: deferred
    or existing) list every child, in the same order; ``units`` holds in full only those
    whose outcome must be worked out now (see `known_units`).
    """

    run_id: int
    parent_key: str
    relation: str
    kind: str
    keys: list[str]
    natural_keys: list[tuple[Any, ...]]
    copied: list[str]
    units: list[KnownUnit]


def known_units(
    conn: Db, parent_key: str, sha256: str, remote: str, relation: str, child_kind: str,
    *, deferring: bool = False,
) -> KnownChildren | None:
    """The ``child_kind`` children the newest finished run of ``remote`` found below
    ``parent_key`` when it had the artifact ``sha256``.

    Every child with its key; in full (``units``, with their artifacts) those whose
    outcome may differ in the new run: with ``deferring`` (metadata-only), those with a
    file that was stored, is known to the catalog, or has no digest; otherwise all those
    with files. None when there is no such run, or when a child was not saved whole in it
    (it failed, or is of another kind): a new run must find those again the same way.
    """
    row = conn.execute(EXPLORED_IN, (parent_key, sha256, remote)).fetchone()
    if row is None:
        return None
    run_id = row[0]
    (children,) = conn.execute(_CHILDREN, (run_id, parent_key, relation)).fetchone()
    rows = conn.execute(_KEYS, (child_kind, parent_key, relation, run_id)).fetchall()
    complete = COMPLETE_STATUSES
    if len(rows) != children or any(status not in complete for _, _, status in rows):
        return None
    keys = [key for key, _, _ in rows]
    # One parse for all: a call per unit costs several times as much.
    natural_keys = list(map(tuple, loads("[" + ",".join(nk for _, nk, _ in rows) + "]")))
    copied = ["deferred" if status == "deferred" else "existing" for _, _, status in rows]
    where = (child_kind, run_id, parent_key, relation)
    wanted: set[int] | None = None
    if deferring:
        wanted = {cid for (cid,) in conn.execute(
            _MAY_DIFFER, (child_kind, parent_key, relation, run_id))}
    units: dict[int, KnownUnit] = {}
    if wanted is None or wanted:
        for (key, content_id, natural_key, status, size, path, url, sha, a_size, a_status,
             deferred) in conn.execute(_UNITS, where):
            if wanted is not None and content_id not in wanted:
                continue
            unit = units.get(content_id)
            if unit is None:
                unit = units[content_id] = KnownUnit(content_id, key,
                                                     tuple(loads(natural_key)), status, size)
            unit.artifacts.append(KnownArtifact(path, url or "", sha, a_size,
                                                a_status != "deferred", bool(deferred)))
    return KnownChildren(run_id, parent_key, relation, child_kind, keys, natural_keys,
                         copied, list(units.values()))


def copy_known_units(
    conn: Db, run_id: int, known: KnownChildren, depth: int,
    units: Iterable[tuple[KnownUnit, str, int, list[str]]],
) -> None:
    """Record ``known``'s children and their edges in run ``run_id`` at ``depth``; rows
    this run holds already are kept. ``units`` gives, for units of ``known.units`` new to
    this run, their status, size and artifacts' statuses now (rows that differ from the
    copy are corrected)."""
    below = (known.run_id, known.run_id, known.parent_key, known.relation)
    conn.execute(_COPY_UNITS, (run_id, depth, *below))
    conn.execute(_COPY_ARTIFACTS, (run_id, *below))
    conn.execute(_COPY_EDGES, (run_id, known.run_id, known.parent_key, known.relation))
    fix_units, fix_artifacts = [], []
    for unit, status, size, statuses in units:
        copied = "deferred" if unit.status == "deferred" else "existing"
        if (status, size) != (copied, 0):
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


def known_block_rows(
    conn: Db, run_id: int, source_run: int, parent_key: str, relation: str, kind: str
) -> tuple[dict[str, tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rows run ``run_id`` holds for the children ``source_run`` found below
    ``parent_key``: ``{key: (status, error, size, number of artifacts)}`` (status None
    when not copied yet) and ``(key, relative_path, url, sha256, size, status, error,
    tries)`` per artifact."""
    where = (kind, run_id, source_run, parent_key, relation)
    units = {row[0]: tuple(row[1:]) for row in conn.execute(_BLOCK_UNITS, where)}
    artifacts = [tuple(row) for row in conn.execute(_BLOCK_ARTIFACTS, where)]
    return units, artifacts
