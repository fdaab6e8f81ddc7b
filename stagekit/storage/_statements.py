"""The catalog's upsert statements, and running one over many rows in few calls.

Each statement is written with a ``{rows}`` placeholder for its VALUES list. A multi-row
INSERT does the work of an ``executemany`` in one call, about a third cheaper in SQLite.
Rows go in chunks of fixed sizes (powers of two) so that a handful of statement texts
serve every batch size and stay in the connection's statement cache.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from itertools import chain
from typing import Any

from stagekit.storage._dialect import Db

__all__ = [
    "UPSERT_ARTIFACT",
    "UPSERT_CONTENT",
    "UPSERT_LINK",
    "UPSERT_RUN_ARTIFACT",
    "UPSERT_RUN_UNIT",
    "execute_rows",
]

# Upper bound on rows per statement; the parameter limit of the SQLite build may lower it.
_MAX_CHUNK = 128

#: Content rows; returns ``(kind, natural_key, id)`` of every row inserted or updated.
UPSERT_CONTENT = """
INSERT INTO content (kind, natural_key, key, fields, complete, first_run)
VALUES {rows}
ON CONFLICT (kind, natural_key) DO UPDATE SET
    key = excluded.key,
    fields = CASE WHEN excluded.fields = '{}' THEN content.fields ELSE excluded.fields END,
    complete = {greatest}(content.complete, excluded.complete)
RETURNING kind, natural_key, id
"""
UPSERT_RUN_UNIT = """
INSERT INTO run_units (run_id, content_id, depth, status, error, size, started_at,
                       finished_at, extra)
VALUES {rows}
ON CONFLICT (run_id, content_id) DO UPDATE SET
    depth = COALESCE(excluded.depth, run_units.depth),
    status = COALESCE(excluded.status, run_units.status),
    error = CASE WHEN excluded.status IS NULL THEN run_units.error ELSE excluded.error END,
    size = COALESCE(excluded.size, run_units.size),
    started_at = COALESCE(run_units.started_at, excluded.started_at),
    finished_at = COALESCE(excluded.finished_at, run_units.finished_at),
    extra = json_patch(run_units.extra, excluded.extra)
"""
UPSERT_ARTIFACT = """
INSERT INTO artifacts (sha256, size, digests) VALUES {rows}
ON CONFLICT (sha256) DO UPDATE SET digests = json_patch(artifacts.digests, excluded.digests)
"""
UPSERT_LINK = """
INSERT INTO content_artifacts (content_id, relative_path, url, sha256, deferred)
VALUES {rows}
ON CONFLICT (content_id, relative_path) DO UPDATE SET
    url = COALESCE(excluded.url, content_artifacts.url),
    sha256 = COALESCE(excluded.sha256, content_artifacts.sha256),
    deferred = excluded.deferred
"""
UPSERT_RUN_ARTIFACT = """
INSERT INTO run_artifacts (run_id, content_id, relative_path, url, sha256, size, status,
                           error, tries, extra)
VALUES {rows}
ON CONFLICT (run_id, content_id, relative_path) DO UPDATE SET
    url = COALESCE(excluded.url, run_artifacts.url),
    sha256 = COALESCE(excluded.sha256, run_artifacts.sha256),
    size = COALESCE(excluded.size, run_artifacts.size),
    status = COALESCE(excluded.status, run_artifacts.status),
    error = excluded.error,
    tries = {greatest}(excluded.tries, run_artifacts.tries),
    extra = json_patch(run_artifacts.extra, excluded.extra)
"""


# How many leading columns of each statement's rows form its conflict key.
_KEY_WIDTH = {
    UPSERT_CONTENT: 2,
    UPSERT_RUN_UNIT: 2,
    UPSERT_ARTIFACT: 1,
    UPSERT_LINK: 2,
    UPSERT_RUN_ARTIFACT: 3,
}


@functools.cache
def _statement(template: str, width: int, count: int) -> str:
    row = "(" + ",".join("?" * width) + ")"
    return template.replace("{rows}", ",".join([row] * count))


@functools.cache
def _largest_chunk(variable_limit: int, width: int) -> int:
    chunk = _MAX_CHUNK
    while chunk > 1 and chunk * width > variable_limit:
        chunk //= 2
    return chunk


def _runs_without_repeats(
    rows: Sequence[tuple[Any, ...]], key_width: int
) -> list[Sequence[tuple[Any, ...]]]:
    """``rows`` cut (in order) so no part names a conflict key twice.

    PostgreSQL refuses an upsert that would update one row twice; running the repeat in
    a later statement gives SQLite's row-after-row result.
    """
    parts: list[Sequence[tuple[Any, ...]]] = []
    seen: set[tuple[Any, ...]] = set()
    start = 0
    for index, row in enumerate(rows):
        key = row[:key_width]
        if key in seen:
            parts.append(rows[start:index])
            seen.clear()
            start = index
        seen.add(key)
    parts.append(rows[start:])
    return parts


def execute_rows(db: Db, template: str, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Run ``template`` over ``rows`` (in order, all the same width); its RETURNING rows."""
    if not rows:
        return []
    if not db.dialect.repeats_in_one_upsert:
        parts = _runs_without_repeats(rows, _KEY_WIDTH[template])
        if len(parts) > 1:
            return [row for part in parts for row in execute_rows_once(db, template, part)]
    return execute_rows_once(db, template, rows)


def execute_rows_once(
    db: Db, template: str, rows: Sequence[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """`execute_rows` for rows that name each conflict key once."""
    width = len(rows[0])
    chunk = _largest_chunk(db.variable_limit, width)
    returns = "RETURNING" in template
    returned: list[tuple[Any, ...]] = []
    start, total = 0, len(rows)
    while start < total:
        while chunk > total - start:
            chunk //= 2
        params = list(chain.from_iterable(rows[start : start + chunk]))
        cursor = db.execute(_statement(template, width, chunk), params)
        if returns:  # psycopg refuses to iterate over a statement without rows
            returned.extend(cursor)
        start += chunk
    return returned
