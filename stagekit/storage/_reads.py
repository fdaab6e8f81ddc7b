"""Read queries of the catalog, run inside a `Catalog` snapshot (lock already held)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stagekit.errors import StoreError
from stagekit.models import unit_key
from stagekit.storage._rows import from_json, natural_key_json

__all__ = [
    "RunRecords",
    "artifact_rows",
    "content_id_for",
    "existing_contents",
    "load_run",
    "run",
    "runs",
]

# Stay well below SQLite's limit on bound parameters per statement.
_CHUNK = 500


@dataclass(slots=True)
class RunRecords:
    """What the catalog holds about one run, for rebuilding its graph and DataFrame.

    ``run``: id, remote, params, status, started_at, finished_at, stats, units.
    ``units``: key, kind, natural_key, fields, depth, status, error, size, started_at,
    finished_at (epoch seconds) and any extra columns saved with them.
    ``artifacts``: unit_key, relative_path, url, sha256, size, digests, status, error,
    tries, deferred. ``edges``: parent, child, relation (None if none). Lists keep the
    order rows were first saved in.
    """

    run: dict[str, Any]
    units: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)

    @property
    def run_id(self) -> int:
        """The run's id."""
        return int(self.run["id"])


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _run_row(row: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
    run_id, remote, params, status, started_at, finished_at, stats, units = row
    return {
        "id": run_id,
        "remote": remote,
        "params": from_json(params),
        "status": status,
        "started_at": started_at,
        "finished_at": finished_at,
        "stats": from_json(stats),
        "units": units,
    }


_RUN_SELECT = """
SELECT r.id, r.remote, r.params, r.status, r.started_at, r.finished_at, r.stats,
       (SELECT COUNT(*) FROM run_units u WHERE u.run_id = r.id)
FROM runs r
"""


def runs(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """All runs, oldest first."""
    return [_run_row(row) for row in conn.execute(_RUN_SELECT + " ORDER BY r.id")]


def run(conn: sqlite3.Connection, run_id: int, where: Path) -> dict[str, Any]:
    """One run; `StoreError` if unknown."""
    row = conn.execute(_RUN_SELECT + " WHERE r.id = ?", (run_id,)).fetchone()
    if row is None:
        raise StoreError(f"catalog {where}: no run with id {run_id}")
    return _run_row(row)


def content_id_for(conn: sqlite3.Connection, row: Mapping[str, Any]) -> tuple[int, str]:
    """``(content id, key)`` of the unit a link row names; `StoreError` if it was not saved."""
    kind, natural_key = row.get("kind"), row.get("natural_key")
    if kind and natural_key is not None:
        key = str(row.get("key") or unit_key(kind, natural_key))
        found = conn.execute(
            "SELECT id FROM content WHERE kind = ? AND natural_key = ?",
            (kind, natural_key_json(natural_key, key)),
        ).fetchone()
    else:
        key = str(row.get("key") or row.get("unit_key") or "")
        found = conn.execute(
            "SELECT id FROM content WHERE key = ? ORDER BY id LIMIT 1", (key,)
        ).fetchone()
    if found is None:
        raise StoreError(
            f"unit {key or repr(row)} is not in the catalog; save its content before its links"
        )
    return int(found[0]), key


def artifact_rows(conn: sqlite3.Connection, sha256s: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{sha256: {"size", "digests"}}`` for the digests the catalog knows."""
    wanted = sorted(set(sha256s))
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(wanted):
        query = (
            f"SELECT sha256, size, digests FROM artifacts WHERE sha256 IN ({_marks(len(chunk))})"
        )
        for sha256, size, digests in conn.execute(query, chunk):
            found[sha256] = {"size": size, "digests": from_json(digests)}
    return found


def _content_by_ref(
    conn: sqlite3.Connection, refs: Iterable[Any]
) -> dict[Any, tuple[int, str, tuple[Any, ...], str, dict[str, Any], bool]]:
    by_ref: dict[Any, tuple[int, str, tuple[Any, ...], str, dict[str, Any], bool]] = {}
    select = "SELECT id, kind, natural_key, key, fields, complete FROM content"
    for ref in refs:
        if isinstance(ref, str):
            rows = conn.execute(select + " WHERE key = ? ORDER BY complete DESC, id", (ref,))
            out_ref: Any = ref
        else:
            kind, natural_key = ref
            out_ref = (kind, tuple(natural_key))
            rows = conn.execute(
                select + " WHERE kind = ? AND natural_key = ?",
                (kind, natural_key_json(natural_key, unit_key(kind, natural_key))),
            )
        row = rows.fetchone()
        if row is not None:
            cid, kind, nk, key, fields, complete = row
            by_ref[out_ref] = (
                cid,
                kind,
                tuple(from_json(nk) or ()),
                key,
                from_json(fields),
                bool(complete),
            )
    return by_ref


def existing_contents(
    conn: sqlite3.Connection,
    refs: Iterable[Any],
    artifact_exists: Callable[[str, int | None], bool] | None,
) -> dict[Any, dict[str, Any]]:
    """Saved content whose non-deferred artifacts are all in the catalog (and on disk)."""
    found = {ref: c for ref, c in _content_by_ref(conn, refs).items() if c[5]}
    links: dict[int, dict[str, dict[str, Any]]] = {c[0]: {} for c in found.values()}
    for chunk in _chunks(list(links)):
        query = (
            "SELECT ca.content_id, ca.relative_path, ca.url, ca.sha256, ca.deferred, a.size,"
            " a.digests FROM content_artifacts ca LEFT JOIN artifacts a ON a.sha256 = ca.sha256"
            f" WHERE ca.content_id IN ({_marks(len(chunk))})"
        )
        for cid, rel, url, sha256, deferred, size, digests in conn.execute(query, chunk):
            links[cid][rel] = {
                "sha256": sha256 if size is not None else None,
                "size": size,
                "digests": from_json(digests),
                "url": url,
                "deferred": bool(deferred),
            }
    result: dict[Any, dict[str, Any]] = {}
    for ref, (cid, kind, nk, key, fields, _complete) in found.items():
        artifacts = links[cid]
        if artifact_exists is not None:
            for link in artifacts.values():
                if link["sha256"] and not artifact_exists(link["sha256"], link["size"]):
                    link["sha256"] = None
        if any(link["sha256"] is None and not link["deferred"] for link in artifacts.values()):
            continue
        result[ref] = {
            "id": cid,
            "kind": kind,
            "natural_key": nk,
            "key": key,
            "fields": fields,
            "artifacts": artifacts,
        }
    return result


_UNITS = """
SELECT c.key, c.kind, c.natural_key, c.fields, u.depth, u.status, u.error, u.size,
       u.started_at, u.finished_at, u.extra
FROM run_units u JOIN content c ON c.id = u.content_id
WHERE u.run_id = ? ORDER BY u.rowid
"""
_RUN_ARTIFACTS = """
SELECT c.key, ra.relative_path, ra.url, ra.sha256, COALESCE(ra.size, a.size), a.digests,
       ra.status, ra.error, ra.tries, ca.deferred, ra.extra
FROM run_artifacts ra
JOIN content c ON c.id = ra.content_id
LEFT JOIN content_artifacts ca
       ON ca.content_id = ra.content_id AND ca.relative_path = ra.relative_path
LEFT JOIN artifacts a ON a.sha256 = ra.sha256
WHERE ra.run_id = ? ORDER BY ra.rowid
"""
# Links saved without a run id: what the catalog knows now about the run's units.
_LINKED_ARTIFACTS = """
SELECT c.key, ca.relative_path, ca.url, ca.sha256, a.size, a.digests,
       CASE WHEN ca.sha256 IS NOT NULL THEN 'existing'
            WHEN ca.deferred THEN 'deferred' END,
       NULL, 0, ca.deferred, '{}'
FROM run_units u
JOIN content c ON c.id = u.content_id
JOIN content_artifacts ca ON ca.content_id = u.content_id
LEFT JOIN artifacts a ON a.sha256 = ca.sha256
WHERE u.run_id = ? ORDER BY u.rowid, ca.rowid
"""


def load_run(conn: sqlite3.Connection, run_id: int, where: Path) -> RunRecords:
    """The records of one run; `StoreError` if unknown."""
    records = RunRecords(run=run(conn, run_id, where))
    for key, kind, nk, fields, depth, status, error, size, started, finished, extra in conn.execute(
        _UNITS, (run_id,)
    ):
        unit = {**from_json(extra)}
        unit.update(
            key=key,
            kind=kind,
            natural_key=tuple(from_json(nk) or ()),
            fields=from_json(fields),
            depth=depth,
            status=status,
            error=error,
            size=size,
            started_at=started,
            finished_at=finished,
        )
        records.units.append(unit)
    rows = conn.execute(_RUN_ARTIFACTS, (run_id,)).fetchall()
    if not rows:
        rows = conn.execute(_LINKED_ARTIFACTS, (run_id,)).fetchall()
    for key, rel, url, sha256, size, digests, status, error, tries, deferred, extra in rows:
        artifact = {**from_json(extra)}
        artifact.update(
            unit_key=key,
            relative_path=rel,
            url=url,
            sha256=sha256,
            size=size,
            digests=from_json(digests),
            status=status,
            error=error,
            tries=tries,
            deferred=bool(deferred),
        )
        records.artifacts.append(artifact)
    for parent, child, relation in conn.execute(
        "SELECT parent_key, child_key, relation FROM run_edges WHERE run_id = ? ORDER BY rowid",
        (run_id,),
    ):
        records.edges.append({"parent": parent, "child": child, "relation": relation or None})
    return records
