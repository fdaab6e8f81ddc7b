"""Read queries of the catalog, run inside a `Catalog` snapshot (lock already held)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stagekit.errors import StoreError
from stagekit.models import unit_key
from stagekit.storage._dialect import Db
from stagekit.storage._rows import from_json, natural_key_json

__all__ = [
    "RunRecords",
    "artifact_rows",
    "content_id_for",
    "content_ids_by_identity",
    "content_ids_by_key",
    "existing_contents",
    "known_sha256s",
    "link_content_ids",
    "load_run",
    "run",
    "runs",
]

# Stay well below SQLite's limit on bound parameters per statement.
_CHUNK = 500
_ENCODE_PAIRS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


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


def _run_row(row: tuple[Any, ...]) -> dict[str, Any]:
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


def runs(conn: Db) -> list[dict[str, Any]]:
    """All runs, oldest first."""
    return [_run_row(row) for row in conn.execute(_RUN_SELECT + " ORDER BY r.id")]


def run(conn: Db, run_id: int, where: object) -> dict[str, Any]:
    """One run; `StoreError` if unknown."""
    row = conn.execute(_RUN_SELECT + " WHERE r.id = ?", (run_id,)).fetchone()
    if row is None:
        raise StoreError(f"catalog {where}: no run with id {run_id}")
    return _run_row(row)


def content_id_for(conn: Db, row: Mapping[str, Any]) -> tuple[int, str]:
    """``(content id, key)`` of the unit a link row names; `StoreError` if it was not saved."""
    [found] = link_content_ids(conn, [row])
    if isinstance(found, Exception):
        raise found
    return found


def _link_ref(row: Mapping[str, Any]) -> tuple[str, tuple[str, str] | None]:
    """The key a link row names its unit by, and its ``(kind, natural key JSON)`` if given."""
    kind, natural_key = row.get("kind"), row.get("natural_key")
    if kind and natural_key is not None:
        key = str(row.get("key") or unit_key(kind, natural_key))
        return key, (kind, natural_key_json(natural_key, key))
    return str(row.get("key") or row.get("unit_key") or ""), None


def link_content_ids(conn: Db, rows: list[Mapping[str, Any]]) -> list[tuple[int, str] | Exception]:
    """The units of all link ``rows``, looked up at once: ``(content id, key)`` per row.

    A row naming a unit that was not saved (or naming it badly) gets the error to raise
    instead, so that the caller can raise errors in row order.
    """
    refs: list[tuple[str, tuple[str, str] | None] | Exception] = []
    keys: set[str] = set()
    identities: set[tuple[str, str]] = set()
    for row in rows:
        try:
            ref = _link_ref(row)
        except Exception as exc:  # handed back, to be raised at its row
            refs.append(exc)
            continue
        key, identity = ref
        refs.append(ref)
        if identity is None:
            keys.add(key)
        else:
            identities.add(identity)
    by_key = content_ids_by_key(conn, keys)
    by_identity = content_ids_by_identity(conn, identities)
    found: list[tuple[int, str] | Exception] = []
    for row, item in zip(rows, refs, strict=True):
        if isinstance(item, Exception):
            found.append(item)
            continue
        key, identity = item
        cid = by_key.get(key) if identity is None else by_identity.get(identity)
        if cid is None:
            found.append(
                StoreError(
                    f"unit {key or repr(row)} is not in the catalog;"
                    " save its content before its links"
                )
            )
        else:
            found.append((cid, key))
    return found


def content_ids_by_key(conn: Db, keys: Iterable[str]) -> dict[str, int]:
    """``{key: id}`` of the first-saved content with each key, for the keys that exist."""
    found: dict[str, int] = {}
    for chunk in _chunks(list(keys)):
        query = f"SELECT key, MIN(id) FROM content WHERE key IN ({_marks(len(chunk))}) GROUP BY key"
        found.update(conn.execute(query, chunk))
    return found


# Matches (kind, natural_key) pairs given as one JSON array, through the unique index.
_BY_IDENTITY = """
SELECT c.kind, c.natural_key, c.id FROM {pairs} JOIN content c
ON c.kind = {pair_kind} AND c.natural_key = {pair_nk}
"""


def content_ids_by_identity(
    conn: Db, identities: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """``{(kind, natural key JSON): id}`` for the given pairs that exist."""
    wanted = list(identities)
    if not wanted:
        return {}
    rows = conn.execute(_BY_IDENTITY, (_ENCODE_PAIRS(wanted),))
    return {(kind, nk): cid for kind, nk, cid in rows}


def known_sha256s(conn: Db, sha256s: Iterable[Any]) -> set[str]:
    """The given digests (other values are ignored) that are in the artifacts table."""
    wanted = [sha for sha in sha256s if isinstance(sha, str)]
    known: set[str] = set()
    for chunk in _chunks(wanted):
        query = f"SELECT sha256 FROM artifacts WHERE sha256 IN ({_marks(len(chunk))})"
        known.update(sha for (sha,) in conn.execute(query, chunk))
    return known


def artifact_rows(conn: Db, sha256s: Iterable[str]) -> dict[str, dict[str, Any]]:
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


# Complete content with its links, by key or by (kind, natural key) given as a JSON array.
_EXISTING = """
SELECT c.id, c.kind, c.natural_key, c.key, c.fields,
       ca.relative_path, ca.url, ca.sha256, ca.deferred, a.size, a.digests
FROM {source}
LEFT JOIN content_artifacts ca ON ca.content_id = c.id
LEFT JOIN artifacts a ON a.sha256 = ca.sha256
WHERE c.complete <> 0 AND {where}
"""
_EXISTING_BY_KEY = _EXISTING.replace("{source}", "content c")
_EXISTING_BY_IDENTITY = _EXISTING.format(
    source="{pairs} JOIN content c ON c.kind = {pair_kind} AND c.natural_key = {pair_nk}",
    where="1 = 1",
)


class _Found:
    """Complete units read for `existing_contents`, with their links by relative path."""

    def __init__(self) -> None:
        self.units: dict[int, tuple[str, str, str, str]] = {}
        self.links: dict[int, dict[str, dict[str, Any]]] = {}
        self.by_key: dict[str, int] = {}
        self.by_identity: dict[tuple[str, str], int] = {}

    def add(self, rows: Iterable[tuple[Any, ...]]) -> None:
        for cid, kind, nk, key, fields, rel, url, sha256, deferred, size, digests in rows:
            links = self.links.get(cid)
            if links is None:
                self.units[cid] = (kind, nk, key, fields)
                links = self.links[cid] = {}
                # Several units may share a key: the oldest complete one answers for it.
                held = self.by_key.get(key)
                if held is None or cid < held:
                    self.by_key[key] = cid
                self.by_identity[kind, nk] = cid
            if rel is not None:
                links[rel] = {
                    "sha256": sha256 if size is not None else None,
                    "size": size,
                    "digests": from_json(digests),
                    "url": url,
                    "deferred": bool(deferred),
                }


def existing_contents(
    conn: Db,
    refs: Iterable[Any],
    artifact_exists: Callable[[str, int | None], bool] | None,
) -> dict[Any, dict[str, Any]]:
    """Saved content whose non-deferred artifacts are all in the catalog (and on disk)."""
    wanted: dict[Any, tuple[str, str] | None] = {}  # output ref -> identity (None: by key)
    for ref in refs:
        if isinstance(ref, str):
            wanted[ref] = None
        else:
            kind, natural_key = ref
            nk_json = natural_key_json(natural_key, unit_key(kind, natural_key))
            wanted[kind, tuple(natural_key)] = (kind, nk_json)
    found = _Found()
    keys = [ref for ref, identity in wanted.items() if identity is None]
    for chunk in _chunks(keys):
        where = f"c.key IN ({_marks(len(chunk))})"
        found.add(conn.execute(_EXISTING_BY_KEY.replace("{where}", where), chunk))
    identities = [identity for identity in wanted.values() if identity is not None]
    if identities:
        found.add(conn.execute(_EXISTING_BY_IDENTITY, (_ENCODE_PAIRS(identities),)))
    result: dict[Any, dict[str, Any]] = {}
    for ref, identity in wanted.items():
        cid = found.by_key.get(ref) if identity is None else found.by_identity.get(identity)
        if cid is None:
            continue
        artifacts = found.links[cid]
        if artifact_exists is not None:
            for link in artifacts.values():
                if link["sha256"] and not artifact_exists(link["sha256"], link["size"]):
                    link["sha256"] = None
        if any(link["sha256"] is None and not link["deferred"] for link in artifacts.values()):
            continue
        kind, nk, key, fields = found.units[cid]
        result[ref] = {
            "id": cid,
            "kind": kind,
            "natural_key": tuple(from_json(nk) or ()),
            "key": key,
            "fields": from_json(fields),
            "artifacts": artifacts,
        }
    return result


_UNITS = """
SELECT c.key, c.kind, c.natural_key, c.fields, u.depth, u.status, u.error, u.size,
       u.started_at, u.finished_at, u.extra
FROM run_units u JOIN content c ON c.id = u.content_id
WHERE u.run_id = ? ORDER BY u.{seq}
"""
_RUN_ARTIFACTS = """
SELECT c.key, ra.relative_path, ra.url, ra.sha256, COALESCE(ra.size, a.size), a.digests,
       ra.status, ra.error, ra.tries, ca.deferred, ra.extra
FROM run_artifacts ra
JOIN content c ON c.id = ra.content_id
LEFT JOIN content_artifacts ca
       ON ca.content_id = ra.content_id AND ca.relative_path = ra.relative_path
LEFT JOIN artifacts a ON a.sha256 = ra.sha256
WHERE ra.run_id = ? ORDER BY ra.{seq}
"""
# Links saved without a run id: what the catalog knows now about the run's units.
_LINKED_ARTIFACTS = """
SELECT c.key, ca.relative_path, ca.url, ca.sha256, a.size, a.digests,
       CASE WHEN ca.sha256 IS NOT NULL THEN 'existing'
            WHEN ca.deferred <> 0 THEN 'deferred' END,
       NULL, 0, ca.deferred, '{}'
FROM run_units u
JOIN content c ON c.id = u.content_id
JOIN content_artifacts ca ON ca.content_id = u.content_id
LEFT JOIN artifacts a ON a.sha256 = ca.sha256
WHERE u.run_id = ? ORDER BY u.{seq}, ca.{seq}
"""


def load_run(conn: Db, run_id: int, where: object) -> RunRecords:
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
        "SELECT parent_key, child_key, relation FROM run_edges WHERE run_id = ? ORDER BY {seq}",
        (run_id,),
    ):
        records.edges.append({"parent": parent, "child": child, "relation": relation or None})
    return records
