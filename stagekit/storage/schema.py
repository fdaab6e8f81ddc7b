"""The catalog's SQLite schema and how a connection is prepared for it.

Content is stored once per ``(kind, natural_key)``; what happened to it in a given run
(status, depth, error, timings) lives in ``run_units``, so the same unit can be
``downloaded`` in run 1 and ``existing`` in run 2. Edges are per run and name units by
key, so discovery can record them before the units are saved.
"""

from __future__ import annotations

import logging
import sqlite3

from stagekit.errors import StoreError

__all__ = ["BUSY_TIMEOUT_MS", "SCHEMA_VERSION", "prepare_connection"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 30_000

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        remote TEXT NOT NULL,
        params TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'running',
        started_at TEXT NOT NULL,
        finished_at TEXT,
        stats TEXT NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE IF NOT EXISTS content (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        natural_key TEXT NOT NULL,
        key TEXT NOT NULL,
        fields TEXT NOT NULL DEFAULT '{}',
        complete INTEGER NOT NULL DEFAULT 0,
        first_run INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        UNIQUE (kind, natural_key)
    )""",
    "CREATE INDEX IF NOT EXISTS content_key ON content(key)",
    """CREATE TABLE IF NOT EXISTS artifacts (
        sha256 TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        digests TEXT NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE IF NOT EXISTS content_artifacts (
        content_id INTEGER NOT NULL REFERENCES content(id) ON DELETE CASCADE,
        relative_path TEXT NOT NULL,
        url TEXT,
        sha256 TEXT REFERENCES artifacts(sha256),
        deferred INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (content_id, relative_path)
    )""",
    "CREATE INDEX IF NOT EXISTS content_artifacts_sha256 ON content_artifacts(sha256)",
    """CREATE TABLE IF NOT EXISTS run_units (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        content_id INTEGER NOT NULL REFERENCES content(id) ON DELETE CASCADE,
        depth INTEGER,
        status TEXT,
        error TEXT,
        size INTEGER,
        started_at REAL,
        finished_at REAL,
        extra TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (run_id, content_id)
    )""",
    "CREATE INDEX IF NOT EXISTS run_units_content ON run_units(content_id)",
    """CREATE TABLE IF NOT EXISTS run_artifacts (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        content_id INTEGER NOT NULL REFERENCES content(id) ON DELETE CASCADE,
        relative_path TEXT NOT NULL,
        url TEXT,
        sha256 TEXT REFERENCES artifacts(sha256),
        size INTEGER,
        status TEXT,
        error TEXT,
        tries INTEGER NOT NULL DEFAULT 0,
        extra TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (run_id, content_id, relative_path)
    )""",
    "CREATE INDEX IF NOT EXISTS run_artifacts_sha256 ON run_artifacts(sha256)",
    """CREATE TABLE IF NOT EXISTS run_edges (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        parent_key TEXT NOT NULL,
        child_key TEXT NOT NULL,
        relation TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (run_id, parent_key, child_key, relation)
    )""",
    "CREATE INDEX IF NOT EXISTS run_edges_child ON run_edges(run_id, child_key)",
]


def prepare_connection(conn: sqlite3.Connection, where: str) -> None:
    """Set WAL mode and the pragmas on ``conn``, and create or check the schema.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Raises `StoreError`
    if the catalog was written by a newer schema.
    """
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        # Some filesystems (network mounts) cannot do WAL; it still works, just with
        # readers blocked by writers.
        log.warning("catalog %s runs in journal mode %r, not WAL", where, mode)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"catalog {where} has schema version {version}, newer than this stagekit "
            f"understands ({SCHEMA_VERSION}); upgrade stagekit"
        )
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    log.debug("catalog %s: schema version %d ready", where, SCHEMA_VERSION)


def check_readonly_connection(conn: sqlite3.Connection, where: str) -> None:
    """Check the schema of a catalog opened read-only (nothing is created or changed)."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"catalog {where} has schema version {version}, newer than this stagekit "
            f"understands ({SCHEMA_VERSION}); upgrade stagekit"
        )
    raise StoreError(f"catalog {where} has schema version {version}, not {SCHEMA_VERSION}: "
                     "not a stagekit catalog, or an old one to open once without readonly")
