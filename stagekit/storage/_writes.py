"""Write statements of the catalog, run inside a `Catalog` transaction (lock already held)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from stagekit.errors import StoreError
from stagekit.models import safe_relative_path, unit_key
from stagekit.storage import _reads
from stagekit.storage._rows import (
    edge_triple,
    natural_key_json,
    split_extra,
    timestamp,
    to_json,
    url_text,
)
from stagekit.urls import redact_text

__all__ = [
    "COMPLETE_STATUSES",
    "check_sha256",
    "save_artifacts",
    "save_contents",
    "save_edges",
    "save_links",
]

#: Unit statuses after which the unit's content counts as saved.
COMPLETE_STATUSES = frozenset({"downloaded", "existing", "deferred"})

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UNIT_COLUMNS = frozenset(
    {
        "kind",
        "natural_key",
        "key",
        "fields",
        "depth",
        "status",
        "error",
        "size",
        "started_at",
        "finished_at",
    }
)
_LINK_COLUMNS = frozenset(
    {
        "key",
        "unit_key",
        "kind",
        "natural_key",
        "relative_path",
        "url",
        "sha256",
        "size",
        "status",
        "error",
        "tries",
        "deferred",
        "digests",
    }
)

_UPSERT_CONTENT = """
INSERT INTO content (kind, natural_key, key, fields, complete, first_run)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (kind, natural_key) DO UPDATE SET
    key = excluded.key,
    fields = CASE WHEN excluded.fields = '{}' THEN content.fields ELSE excluded.fields END,
    complete = MAX(content.complete, excluded.complete)
"""
_UPSERT_RUN_UNIT = """
INSERT INTO run_units (run_id, content_id, depth, status, error, size, started_at,
                       finished_at, extra)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, content_id) DO UPDATE SET
    depth = COALESCE(excluded.depth, run_units.depth),
    status = COALESCE(excluded.status, run_units.status),
    error = CASE WHEN excluded.status IS NULL THEN run_units.error ELSE excluded.error END,
    size = COALESCE(excluded.size, run_units.size),
    started_at = COALESCE(run_units.started_at, excluded.started_at),
    finished_at = COALESCE(excluded.finished_at, run_units.finished_at),
    extra = json_patch(run_units.extra, excluded.extra)
"""
_UPSERT_ARTIFACT = """
INSERT INTO artifacts (sha256, size, digests) VALUES (?, ?, ?)
ON CONFLICT (sha256) DO UPDATE SET digests = json_patch(artifacts.digests, excluded.digests)
"""
_UPSERT_LINK = """
INSERT INTO content_artifacts (content_id, relative_path, url, sha256, deferred)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (content_id, relative_path) DO UPDATE SET
    url = COALESCE(excluded.url, content_artifacts.url),
    sha256 = COALESCE(excluded.sha256, content_artifacts.sha256),
    deferred = excluded.deferred
"""
_UPSERT_RUN_ARTIFACT = """
INSERT INTO run_artifacts (run_id, content_id, relative_path, url, sha256, size, status,
                           error, tries, extra)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, content_id, relative_path) DO UPDATE SET
    url = COALESCE(excluded.url, run_artifacts.url),
    sha256 = COALESCE(excluded.sha256, run_artifacts.sha256),
    size = COALESCE(excluded.size, run_artifacts.size),
    status = COALESCE(excluded.status, run_artifacts.status),
    error = excluded.error,
    tries = MAX(excluded.tries, run_artifacts.tries),
    extra = json_patch(run_artifacts.extra, excluded.extra)
"""


def check_sha256(sha256: Any) -> str:
    """``sha256`` if it is 64 lower-case hex characters, else `StoreError`."""
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise StoreError(f"{sha256!r} is not a sha256 hex digest (64 lower-case hex characters)")
    return sha256


def _error_text(error: Any) -> str | None:
    if error is None:
        return None
    if isinstance(error, BaseException):
        error = f"{type(error).__name__}: {error}"
    return redact_text(str(error))


def _check_run(conn: sqlite3.Connection, run_id: Any) -> None:
    if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
        raise StoreError(f"no run with id {run_id!r}: start_run() first")


def save_contents(conn: sqlite3.Connection, run_id: int, rows: Iterable[Mapping[str, Any]]) -> int:
    """Upsert content and its per-run unit record (see `Catalog.save_contents`)."""
    _check_run(conn, run_id)
    count = 0
    for row in rows:
        kind = row.get("kind")
        if not kind:
            raise StoreError(f"content row {row!r} has no kind")
        natural_key = tuple(row.get("natural_key") or ())
        key = str(row.get("key") or unit_key(kind, natural_key))
        nk_json = natural_key_json(natural_key, key)
        status = row.get("status")
        complete = int(status is None or status in COMPLETE_STATUSES)
        conn.execute(
            _UPSERT_CONTENT,
            (kind, nk_json, key, to_json(row.get("fields") or {}), complete, run_id),
        )
        content_id = conn.execute(
            "SELECT id FROM content WHERE kind = ? AND natural_key = ?", (kind, nk_json)
        ).fetchone()[0]
        conn.execute(
            _UPSERT_RUN_UNIT,
            (
                run_id,
                content_id,
                row.get("depth"),
                status,
                _error_text(row.get("error")),
                row.get("size"),
                timestamp(row.get("started_at"), f"unit {key} started_at"),
                timestamp(row.get("finished_at"), f"unit {key} finished_at"),
                to_json(split_extra(row, _UNIT_COLUMNS)),
            ),
        )
        count += 1
    return count


def save_artifacts(conn: sqlite3.Connection, rows: Iterable[Any]) -> int:
    """Upsert artifacts, merging known digests (see `Catalog.save_artifacts`)."""
    values = []
    for row in rows:
        if isinstance(row, Mapping):
            sha256, size, digests = row.get("sha256"), row.get("size"), row.get("digests")
        else:
            sha256, size, digests = row.sha256, row.size, getattr(row, "digests", None)
        check_sha256(sha256)
        if not isinstance(size, int) or size < 0:
            raise StoreError(f"artifact sha256:{sha256} has no valid size ({size!r})")
        digests = dict(digests or {})
        digests.setdefault("sha256", sha256)
        values.append((sha256, size, to_json(digests)))
    conn.executemany(_UPSERT_ARTIFACT, values)
    return len(values)


def save_links(
    conn: sqlite3.Connection, rows: Iterable[Mapping[str, Any]], run_id: int | None
) -> int:
    """Upsert content-artifact links and per-run artifact records (see `Catalog.save_links`)."""
    if run_id is not None:
        _check_run(conn, run_id)
    count = 0
    for row in rows:
        content_id, key = _reads.content_id_for(conn, row)
        relative_path = safe_relative_path(str(row.get("relative_path")))
        sha256 = row.get("sha256")
        size = row.get("size")
        if sha256 is not None:
            check_sha256(sha256)
            known = conn.execute("SELECT 1 FROM artifacts WHERE sha256 = ?", (sha256,))
            if known.fetchone() is None:
                if size is None:
                    raise StoreError(
                        f"unit {key}: link {relative_path!r} names sha256:{sha256}, which"
                        " is not in the catalog and has no size; save the artifact first"
                    )
                save_artifacts(
                    conn, [{"sha256": sha256, "size": size, "digests": row.get("digests")}]
                )
        status = row.get("status")
        deferred = int(bool(row.get("deferred", status == "deferred")))
        url = url_text(row.get("url"))
        conn.execute(_UPSERT_LINK, (content_id, relative_path, url, sha256, deferred))
        if run_id is not None:
            conn.execute(
                _UPSERT_RUN_ARTIFACT,
                (
                    run_id,
                    content_id,
                    relative_path,
                    url,
                    sha256,
                    size,
                    status,
                    _error_text(row.get("error")),
                    int(row.get("tries") or 0),
                    to_json(split_extra(row, _LINK_COLUMNS)),
                ),
            )
        count += 1
    return count


def save_edges(conn: sqlite3.Connection, run_id: int, rows: Iterable[Any]) -> int:
    """Insert a run's edges (duplicates ignored); returns how many were given."""
    _check_run(conn, run_id)
    triples = [(run_id, *edge_triple(row)) for row in rows]
    conn.executemany(
        "INSERT OR IGNORE INTO run_edges (run_id, parent_key, child_key, relation)"
        " VALUES (?, ?, ?, ?)",
        triples,
    )
    return len(triples)
