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
    "check_run",
    "check_sha256",
    "save_artifacts",
    "save_batch",
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


def check_run(conn: sqlite3.Connection, run_id: Any) -> None:
    """`StoreError` unless run ``run_id`` was started."""
    if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
        raise StoreError(f"no run with id {run_id!r}: start_run() first")


def _content_values(row: Mapping[str, Any], run_id: int) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The content row and (without its content id) the run_units row of one unit."""
    kind = row.get("kind")
    if not kind:
        raise StoreError(f"content row {row!r} has no kind")
    natural_key = tuple(row.get("natural_key") or ())
    key = str(row.get("key") or unit_key(kind, natural_key))
    nk_json = natural_key_json(natural_key, key)
    status = row.get("status")
    complete = 1 if status is None or status in COMPLETE_STATUSES else 0
    fields = row.get("fields")
    content = (kind, nk_json, key, to_json(fields) if fields else "{}", complete, run_id)
    error, started, finished = row.get("error"), row.get("started_at"), row.get("finished_at")
    unit = (
        row.get("depth"),
        status,
        None if error is None else _error_text(error),
        row.get("size"),
        None if started is None else timestamp(started, f"unit {key} started_at"),
        None if finished is None else timestamp(finished, f"unit {key} finished_at"),
        to_json(split_extra(row, _UNIT_COLUMNS)),
    )
    return content, unit


def save_contents(
    conn: sqlite3.Connection,
    run_id: int,
    rows: Iterable[Mapping[str, Any]],
    *,
    run_checked: bool = False,
) -> int:
    """Upsert content and its per-run unit record (see `Catalog.save_contents`)."""
    if not run_checked:
        check_run(conn, run_id)
    prepared = [_content_values(row, run_id) for row in rows]
    if not prepared:
        return 0
    contents = [content for content, _unit in prepared]
    conn.executemany(_UPSERT_CONTENT, contents)
    # One query for every id of the batch, instead of a SELECT per row.
    ids = _reads.content_ids_by_identity(conn, [(c[0], c[1], c[2]) for c in contents])
    conn.executemany(
        _UPSERT_RUN_UNIT,
        [(run_id, ids[content[0], content[1]], *unit) for content, unit in prepared],
    )
    return len(prepared)


def _artifact_values(row: Any) -> tuple[str, int, str]:
    if isinstance(row, Mapping):
        sha256, size, digests = row.get("sha256"), row.get("size"), row.get("digests")
    else:
        sha256, size, digests = row.sha256, row.size, getattr(row, "digests", None)
    check_sha256(sha256)
    if not isinstance(size, int) or size < 0:
        raise StoreError(f"artifact sha256:{sha256} has no valid size ({size!r})")
    if not digests:
        return sha256, size, to_json({"sha256": sha256})
    digests = dict(digests)
    digests.setdefault("sha256", sha256)
    return sha256, size, to_json(digests)


def save_artifacts(conn: sqlite3.Connection, rows: Iterable[Any]) -> int:
    """Upsert artifacts, merging known digests (see `Catalog.save_artifacts`)."""
    values = [_artifact_values(row) for row in rows]
    conn.executemany(_UPSERT_ARTIFACT, values)
    return len(values)


def save_links(
    conn: sqlite3.Connection,
    rows: Iterable[Mapping[str, Any]],
    run_id: int | None,
    *,
    run_checked: bool = False,
) -> int:
    """Upsert content-artifact links and per-run artifact records (see `Catalog.save_links`)."""
    rows = list(rows)
    if run_id is not None and not run_checked:
        check_run(conn, run_id)
    if not rows:
        return 0
    resolve = _reads.link_content_ids(conn, rows)
    known = _reads.known_sha256s(conn, {row.get("sha256") for row in rows})
    new_artifacts = []
    links = []
    run_artifacts = []
    for row in rows:
        content_id, key = resolve(row)
        relative_path = safe_relative_path(str(row.get("relative_path")))
        sha256 = row.get("sha256")
        size = row.get("size")
        if sha256 is not None:
            check_sha256(sha256)
            if sha256 not in known:
                if size is None:
                    raise StoreError(
                        f"unit {key}: link {relative_path!r} names sha256:{sha256}, which"
                        " is not in the catalog and has no size; save the artifact first"
                    )
                digests = row.get("digests")
                new_artifacts.append(
                    _artifact_values({"sha256": sha256, "size": size, "digests": digests})
                )
                known.add(sha256)
        status = row.get("status")
        deferred = 1 if row.get("deferred", status == "deferred") else 0
        url = url_text(row.get("url"))
        links.append((content_id, relative_path, url, sha256, deferred))
        if run_id is not None:
            error = row.get("error")
            run_artifacts.append(
                (
                    run_id,
                    content_id,
                    relative_path,
                    url,
                    sha256,
                    size,
                    status,
                    None if error is None else _error_text(error),
                    int(row.get("tries") or 0),
                    to_json(split_extra(row, _LINK_COLUMNS)),
                )
            )
    if new_artifacts:
        conn.executemany(_UPSERT_ARTIFACT, new_artifacts)
    conn.executemany(_UPSERT_LINK, links)
    if run_artifacts:
        conn.executemany(_UPSERT_RUN_ARTIFACT, run_artifacts)
    return len(links)


def save_edges(
    conn: sqlite3.Connection, run_id: int, rows: Iterable[Any], *, run_checked: bool = False
) -> int:
    """Insert a run's edges (duplicates ignored); returns how many were given."""
    if not run_checked:
        check_run(conn, run_id)
    triples = [(run_id, *edge_triple(row)) for row in rows]
    if triples:
        conn.executemany(
            "INSERT OR IGNORE INTO run_edges (run_id, parent_key, child_key, relation)"
            " VALUES (?, ?, ?, ?)",
            triples,
        )
    return len(triples)


def save_batch(
    conn: sqlite3.Connection,
    run_id: int,
    contents: Iterable[Mapping[str, Any]],
    artifacts: Iterable[Any],
    links: Iterable[Mapping[str, Any]],
    edges: Iterable[Any],
) -> None:
    """Everything a pipeline batch produced, in a safe order (see `Catalog.save_batch`)."""
    check_run(conn, run_id)
    save_contents(conn, run_id, contents, run_checked=True)
    save_artifacts(conn, artifacts)
    save_links(conn, links, run_id, run_checked=True)
    save_edges(conn, run_id, edges, run_checked=True)
