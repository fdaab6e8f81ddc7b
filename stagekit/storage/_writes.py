"""Write statements of the catalog, run inside a `Catalog` transaction (lock already held)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from stagekit.errors import StoreError
from stagekit.models import safe_relative_path, unit_key
from stagekit.storage import _reads
from stagekit.storage._dialect import Db
from stagekit.storage._rows import (
    edge_triple,
    natural_key_json,
    split_extra,
    timestamp,
    to_json,
    url_text,
)
from stagekit.storage._statements import (
    UPSERT_ARTIFACT,
    UPSERT_CONTENT,
    UPSERT_LINK,
    UPSERT_RUN_ARTIFACT,
    UPSERT_RUN_UNIT,
    execute_rows,
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
COMPLETE_STATUSES = frozenset({"downloaded", "shared", "existing", "deferred"})

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


def check_run(conn: Db, run_id: Any) -> None:
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
        "{}" if row.keys() <= _UNIT_COLUMNS else to_json(split_extra(row, _UNIT_COLUMNS)),
    )
    return content, unit


def save_contents(
    conn: Db,
    run_id: int,
    rows: Iterable[Mapping[str, Any]],
    *,
    run_checked: bool = False,
) -> int:
    """Upsert content and its per-run unit record (see `Catalog.save_contents`)."""
    if not run_checked:
        check_run(conn, run_id)
    return len(_save_contents(conn, run_id, rows))


def _save_contents(
    conn: Db, run_id: int, rows: Iterable[Mapping[str, Any]]
) -> dict[str, int | None]:
    """`save_contents`; returns the content id of each key saved (None for a key that
    two of the rows share)."""
    prepared = [_content_values(row, run_id) for row in rows]
    if not prepared:
        return {}
    returned = execute_rows(conn, UPSERT_CONTENT, [content for content, _unit in prepared])
    ids = {(kind, nk_json): cid for kind, nk_json, cid in returned}
    by_key: dict[str, int | None] = {}
    unit_rows = []
    for content, unit in prepared:
        cid = ids[content[0], content[1]]
        unit_rows.append((run_id, cid, *unit))
        key = content[2]
        by_key[key] = cid if by_key.get(key, cid) == cid else None
    execute_rows(conn, UPSERT_RUN_UNIT, unit_rows)
    return by_key


def _artifact_values(row: Any) -> tuple[str, int, str]:
    if isinstance(row, Mapping):
        sha256, size, digests = row.get("sha256"), row.get("size"), row.get("digests")
    else:
        sha256, size, digests = row.sha256, row.size, getattr(row, "digests", None)
    sha256 = check_sha256(sha256)
    if not isinstance(size, int) or size < 0:
        raise StoreError(f"artifact sha256:{sha256} has no valid size ({size!r})")
    if not digests:
        return sha256, size, to_json({"sha256": sha256})
    digests = dict(digests)
    digests.setdefault("sha256", sha256)
    return sha256, size, to_json(digests)


def _save_artifacts(conn: Db, rows: Iterable[Any]) -> list[tuple[str, int, str]]:
    values = [_artifact_values(row) for row in rows]
    execute_rows(conn, UPSERT_ARTIFACT, values)
    return values


def save_artifacts(conn: Db, rows: Iterable[Any]) -> int:
    """Upsert artifacts, merging known digests (see `Catalog.save_artifacts`)."""
    return len(_save_artifacts(conn, rows))


def save_links(
    conn: Db,
    rows: Iterable[Mapping[str, Any]],
    run_id: int | None,
    *,
    run_checked: bool = False,
    saved_sha256s: frozenset[str] = frozenset(),
    saved_ids: Mapping[str, int | None] | None = None,
) -> int:
    """Upsert content-artifact links and per-run artifact records (see `Catalog.save_links`).

    ``saved_sha256s``: digests known to be in the artifacts table (saved in this transaction).
    ``saved_ids``: content ids by key of the units saved in this transaction; links that
    name their unit by such a key need no lookup.
    """
    rows = list(rows)
    if run_id is not None and not run_checked:
        check_run(conn, run_id)
    if not rows:
        return 0
    units = _saved_units(rows, saved_ids) if saved_ids else None
    if units is None:
        units = _reads.link_content_ids(conn, rows)
    wanted = {sha for row in rows if isinstance(sha := row.get("sha256"), str)}
    known = _reads.known_sha256s(conn, wanted - saved_sha256s) | saved_sha256s
    new_artifacts = []
    links = []
    run_artifacts = []
    for row, unit in zip(rows, units, strict=True):
        if isinstance(unit, Exception):
            raise unit
        content_id, key = unit
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
                    "{}"
                    if row.keys() <= _LINK_COLUMNS
                    else to_json(split_extra(row, _LINK_COLUMNS)),
                )
            )
    execute_rows(conn, UPSERT_ARTIFACT, new_artifacts)
    execute_rows(conn, UPSERT_LINK, links)
    execute_rows(conn, UPSERT_RUN_ARTIFACT, run_artifacts)
    return len(links)


def _saved_units(
    rows: list[Mapping[str, Any]], saved_ids: Mapping[str, int | None]
) -> list[tuple[int, str] | Exception] | None:
    """``(content id, key)`` of every link row from ``saved_ids``; None unless each row
    names its unit by a key alone that one unit of this transaction has."""
    units: list[tuple[int, str] | Exception] = []
    for row in rows:
        key = row.get("key")
        if type(key) is not str or row.get("kind") is not None:
            return None
        cid = saved_ids.get(key)
        if cid is None:
            return None
        units.append((cid, key))
    return units


def save_edges(conn: Db, run_id: int, rows: Iterable[Any], *, run_checked: bool = False) -> int:
    """Insert a run's edges (duplicates ignored); returns how many were given."""
    if not run_checked:
        check_run(conn, run_id)
    triples = [(run_id, *edge_triple(row)) for row in rows]
    if triples:
        conn.executemany(
            "INSERT INTO run_edges (run_id, parent_key, child_key, relation)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            triples,
        )
    return len(triples)


def save_batch(
    conn: Db,
    run_id: int,
    contents: Iterable[Mapping[str, Any]],
    artifacts: Iterable[Any],
    links: Iterable[Mapping[str, Any]],
    edges: Iterable[Any],
) -> None:
    """Everything a pipeline batch produced, in a safe order (see `Catalog.save_batch`)."""
    check_run(conn, run_id)
    saved_ids = _save_contents(conn, run_id, contents)
    saved = frozenset(sha256 for sha256, _size, _digests in _save_artifacts(conn, artifacts))
    save_links(conn, links, run_id, run_checked=True, saved_sha256s=saved, saved_ids=saved_ids)
    save_edges(conn, run_id, edges, run_checked=True)
