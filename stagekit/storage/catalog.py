"""The catalog: runs, content, artifacts, content-artifact links, per-run records.

`BaseCatalog` holds the API and its semantics; a backend supplies connections. `Catalog`
is the embedded SQLite one: one connection, usable from any thread one call at a time
(a lock guards it); WAL mode lets other connections (a notebook) read committed rows
while a run writes. `stagekit.storage.postgres.PostgresCatalog` is the shared one.
Every ``save_*`` call is one short write transaction; `BaseCatalog.transaction` groups
several into one.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from stagekit.errors import StoreError
from stagekit.models import DeclarativeContent
from stagekit.storage import _children, _declared, _known, _reads, _writes
from stagekit.storage._dialect import SQLITE, Db
from stagekit.storage._known import KnownChildren, KnownUnit
from stagekit.storage._reads import RunRecords
from stagekit.storage._rows import from_json, to_json, utc_now_iso
from stagekit.storage._writes import COMPLETE_STATUSES, check_sha256
from stagekit.storage.schema import check_readonly_connection, prepare_connection
from stagekit.urls import redact_url

__all__ = ["COMPLETE_STATUSES", "BaseCatalog", "Catalog", "RunRecords", "check_sha256"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def _listed(rows: Iterable[T]) -> Sequence[T]:
    """``rows`` as a sequence, so a retried transaction sees them again."""
    return rows if isinstance(rows, (list, tuple)) else list(rows)


class BaseCatalog:
    """The catalog's API over any backend (see the subclasses).

    ``artifact_exists(sha256, size)``, if given, is asked before content or an artifact
    is reported as existing, so a file deleted from the artifact store is fetched again.
    """

    #: Where the catalog is, for messages (a path, or a URL without credentials).
    where: str
    _artifact_exists: Callable[[str, int | None], bool] | None

    def close(self) -> None:
        """Release the connection(s) (idempotent)."""
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[Db]:
        """One write transaction (nested calls join the outer one); rolled back on error."""
        raise NotImplementedError

    def _snapshot(self, what: str) -> AbstractContextManager[Db]:
        """A read transaction, so several SELECTs see one consistent state."""
        raise NotImplementedError

    def _write(self, body: Callable[[Db], T]) -> T:
        """``body(db)`` in one write transaction (a backend may retry it)."""
        with self.transaction() as db:
            return body(db)

    def __enter__(self) -> BaseCatalog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Runs

    def start_run(self, remote: str, params: Mapping[str, Any] | None = None) -> int:
        """Record a new run (status ``running``) and return its id."""
        with self.transaction() as conn:
            row = conn.execute(
                "INSERT INTO runs (remote, params, status, started_at) VALUES (?, ?, ?, ?)"
                " RETURNING id",
                (redact_url(str(remote)), to_json(params or {}), "running", utc_now_iso()),
            ).fetchone()
        run_id = int(row[0])
        log.debug("catalog %s: started run %d for %s", self.where, run_id, redact_url(remote))
        return run_id

    def mark_interrupted(self, live: set[str]) -> int:
        """Mark ``interrupted`` the runs still ``running`` whose store session is not in
        ``live`` (their process died: killed, crashed); returns how many."""
        with self.transaction() as conn:
            rows = conn.execute("SELECT id, params FROM runs WHERE status = 'running'").fetchall()
            sessions = [(run_id, from_json(params).get("session")) for run_id, params in rows]
            dead = [(run_id,) for run_id, session in sessions if session and session not in live]
            if dead:
                conn.executemany("UPDATE runs SET status = 'interrupted' WHERE id = ?", dead)
        if dead:
            log.info("catalog %s: %d run(s) interrupted by a dead process", self.where, len(dead))
        return len(dead)

    def finish_run(self, run_id: int, status: str, stats: Mapping[str, Any] | None = None) -> None:
        """Set a run's final ``status``, its ``stats`` and ``finished_at``."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE runs SET status = ?, stats = ?, finished_at = ? WHERE id = ?",
                (status, to_json(stats or {}), utc_now_iso(), run_id),
            )
            if cursor.rowcount != 1:
                raise StoreError(f"catalog {self.where}: no run with id {run_id} to finish")

    def runs(self) -> list[dict[str, Any]]:
        """Every recorded run, oldest first, with its unit count."""
        with self._snapshot("listing runs") as conn:
            return _reads.runs(conn)

    def get_run(self, run_id: int) -> dict[str, Any]:
        """One run's row; `StoreError` if there is none."""
        with self._snapshot(f"reading run {run_id}") as conn:
            return _reads.run(conn, run_id, self.where)

    # Batched writes

    def save_contents(self, run_id: int, rows: Iterable[Mapping[str, Any]]) -> int:
        """Upsert content and its per-run record for each row, in one transaction.

        A row has ``kind`` and ``natural_key`` (a tuple), and optionally ``key``,
        ``fields`` (dict), ``depth``, ``status``, ``error``, ``size``, ``started_at``,
        ``finished_at``; other keys are kept as extra columns of the unit. Returns the count.
        """
        rows = _listed(rows)
        return self._write(lambda conn: _writes.save_contents(conn, run_id, rows))

    def save_artifacts(self, rows: Iterable[Any]) -> int:
        """Upsert artifacts (``sha256``, ``size``, ``digests``), from mappings or `Artifact`s."""
        rows = _listed(rows)
        return self._write(lambda conn: _writes.save_artifacts(conn, rows))

    def save_links(self, rows: Iterable[Mapping[str, Any]], run_id: int | None = None) -> int:
        """Upsert content-artifact links; with ``run_id`` also what happened in that run.

        A row names its unit by ``key`` (or ``kind`` + ``natural_key``), and has
        ``relative_path``, ``url``, ``sha256`` (None while deferred or failed), and
        optionally ``status``, ``size``, ``error``, ``tries``, ``deferred``, ``digests``.
        The unit must have been saved first. URLs are stored without credentials.
        """
        rows = _listed(rows)
        return self._write(lambda conn: _writes.save_links(conn, rows, run_id))

    def save_edges(self, run_id: int, rows: Iterable[Any]) -> int:
        """Record discovery edges of a run: mappings or ``(parent, child[, relation])``."""
        rows = _listed(rows)
        return self._write(lambda conn: _writes.save_edges(conn, run_id, rows))

    def save_batch(
        self,
        run_id: int,
        *,
        contents: Iterable[Mapping[str, Any]] = (),
        artifacts: Iterable[Any] = (),
        links: Iterable[Mapping[str, Any]] = (),
        edges: Iterable[Any] = (),
    ) -> None:
        """Everything a pipeline batch produced, in one transaction, in a safe order."""
        parts = _listed(contents), _listed(artifacts), _listed(links), _listed(edges)
        self._write(lambda conn: _writes.save_batch(conn, run_id, *parts))

    def save_declared(
        self, run_id: int, batch: Sequence[DeclarativeContent], statuses: Sequence[str],
        *, edges: Iterable[Any] = (),
    ) -> None:
        """Save a pipeline batch whose units have ``statuses``, in one transaction: the
        same rows as `save_batch` of `stagekit.stages.content.catalog_rows` (``batch``),
        without building them as dicts first; and ``edges``, as `save_batch` would."""
        rows = _declared.declared_rows(batch, statuses, run_id)
        listed = _listed(edges)
        self._write(lambda conn: _declared.save_declared(conn, run_id, rows, listed))

    # Reads

    def complete_keys(self, kind: str) -> set[str]:
        """Keys of the units of ``kind`` that an earlier run saved completely (cheap to ask
        once, so a remote need not look up every unit it meets)."""
        with self._snapshot(f"listing saved {kind} units") as conn:
            rows = conn.execute("SELECT key FROM content WHERE kind = ? AND complete <> 0", (kind,))
            return {key for (key,) in rows}

    def existing_contents(self, keys: Iterable[Any]) -> dict[Any, dict[str, Any]]:
        """Content known from earlier runs whose non-deferred artifacts are all stored.

        ``keys`` are unit key strings or ``(kind, natural_key)`` pairs; the answer is keyed
        the same way (natural keys as tuples). Each row has ``id``, ``kind``,
        ``natural_key``, ``key``, ``fields`` and ``artifacts`` (by relative path: ``sha256``,
        ``size``, ``digests``, ``url``, ``deferred``).
        """
        with self._snapshot("looking up existing content") as conn:
            return _reads.existing_contents(conn, keys, self._artifact_exists)

    def existing_artifacts(self, sha256s: Iterable[str]) -> set[str]:
        """The given digests that the catalog holds (and that are on disk, if it can tell)."""
        with self._snapshot("looking up existing artifacts") as conn:
            known = _reads.artifact_rows(conn, sha256s)
        if self._artifact_exists is None:
            return set(known)
        return {sha for sha, row in known.items() if self._artifact_exists(sha, row["size"])}

    def artifact_rows(self, sha256s: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Catalog rows (``size``, ``digests``) of the given digests that it knows."""
        with self._snapshot("reading artifacts") as conn:
            return _reads.artifact_rows(conn, sha256s)

    def known_children(
        self, parent_key: str, sha256: str, *, remote: str, relation: str, child_kind: str
    ) -> list[dict[str, Any]] | None:
        """Fields of the ``child_kind`` units a finished run of ``remote`` found below
        ``parent_key`` (by ``relation``) when that unit had the artifact ``sha256``; None
        if no such run, or a child failed (see `stagekit.storage._children`)."""
        with self._snapshot(f"reading the children of {parent_key}") as conn:
            return _children.known_children(conn, parent_key, sha256, redact_url(remote),
                                            relation, child_kind)

    def known_units(
        self, parent_key: str, sha256: str, *, remote: str, relation: str, child_kind: str,
        deferring: bool = False,
    ) -> KnownChildren | None:
        """The ``child_kind`` units a finished run of ``remote`` saved below ``parent_key``
        when it had the artifact ``sha256`` (keys; in full those whose outcome may differ
        now); None if no such run, or a child was not saved whole (see
        `stagekit.storage._known`)."""
        with self._snapshot(f"reading the units below {parent_key}") as conn:
            return _known.known_units(conn, parent_key, sha256, redact_url(remote), relation,
                                      child_kind, deferring=deferring)

    def copy_known_units(
        self, run_id: int, known: KnownChildren, depth: int,
        units: Iterable[tuple[KnownUnit, str, int, list[str]]],
    ) -> None:
        """Record ``known``'s units and edges in run ``run_id`` at ``depth``, in one
        transaction, from the earlier run's rows; ``units``: those worked out now, with
        their status, size and artifact statuses in this run (see
        `stagekit.storage._known.copy_known_units`)."""
        rows = _listed(units)
        self._write(lambda conn: _known.copy_known_units(conn, run_id, known, depth, rows))

    def known_block_rows(
        self, run_id: int, source_run: int, parent_key: str, relation: str, kind: str
    ) -> tuple[dict[str, tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Run ``run_id``'s rows of the units ``source_run`` found below ``parent_key``
        (see `stagekit.storage._known.known_block_rows`)."""
        with self._snapshot(f"reading the units below {parent_key}") as conn:
            return _known.known_block_rows(conn, run_id, source_run, parent_key, relation,
                                           kind)

    def load_run(self, run_id: int) -> RunRecords:
        """Everything recorded about one run: its row, units, artifacts and edges."""
        with self._snapshot(f"loading run {run_id}") as conn:
            return _reads.load_run(conn, run_id, self.where)

    def run_summary(
        self, run_id: int, failures: int = 50
    ) -> tuple[dict[str, Any], list[tuple[Any, ...]], list[tuple[str, str]]] | None:
        """One run's row, its ``(depth, kind, status, units, bytes)`` counted in SQL, and
        its first ``failures`` failed units as ``(key, error)``; None if there is no such run."""
        with self._snapshot(f"summarising run {run_id}") as conn:
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                return None
            return (_reads.run(conn, run_id, self.where), _reads.run_totals(conn, run_id),
                    _reads.run_failures(conn, run_id, failures))



class Catalog(BaseCatalog):
    """The embedded SQLite catalog of one store (or any SQLite file).

    ``artifact_exists(sha256, size)``, if given, is asked before content or an artifact
    is reported as existing, so a file deleted from disk is fetched again.
    ``readonly=True`` opens an existing catalog for reading only (also on read-only
    files and directories): writes raise `StoreError`, nothing is created.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        artifact_exists: Callable[[str, int | None], bool] | None = None,
        readonly: bool = False,
    ) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        self._artifact_exists = artifact_exists
        self._lock = threading.RLock()
        if readonly:
            self._conn = _connect_readonly(self.path)
            self._db = Db(
                self._conn, SQLITE, self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            )
            return
        try:
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open catalog {self.path}: {exc}") from exc
        try:
            prepare_connection(self._conn, str(self.path))
            self._db = Db(
                self._conn, SQLITE, self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            )
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(f"cannot prepare catalog {self.path}: {exc}") from exc
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"catalog {self.path}: {what} failed: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[Db]:
        """One write transaction (nested calls join the outer one); rolled back on error."""
        with self._lock, self._guard("write transaction"):
            if self._conn.in_transaction:
                yield self._db
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._conn.execute("COMMIT")
            except BaseException:
                # Also after a failed COMMIT: never leave a half-open transaction that
                # the next call would silently join.
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _snapshot(self, what: str) -> Iterator[Db]:
        """A read transaction, so several SELECTs see one consistent state."""
        with self._lock, self._guard(what):
            if self._conn.in_transaction:
                yield self._db
                return
            self._conn.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._conn.execute("COMMIT")


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection that creates no file next to the catalog.

    With no ``-wal`` file no connection has the catalog open (the last one to close
    removes it), so it is read as ``immutable``: ``mode=ro`` would create ``-wal`` and
    ``-shm`` files, and cannot read at all in a read-only folder. When a writer is there
    (a run going on), ``mode=ro`` reads through its WAL.
    """
    uri = "file:" + quote(str(path.absolute()))
    attempts = ["mode=ro&immutable=1"]
    if Path(f"{path}-wal").exists():
        attempts.insert(0, "mode=ro")
    last: sqlite3.Error | None = None
    for flags in attempts:
        try:
            conn = sqlite3.connect(f"{uri}?{flags}", uri=True, isolation_level=None,
                                   check_same_thread=False, timeout=30.0)
        except sqlite3.Error as exc:
            last = exc
            continue
        try:
            check_readonly_connection(conn, str(path))
        except sqlite3.Error as exc:
            conn.close()
            last = exc
            continue
        except BaseException:
            conn.close()
            raise
        return conn
    raise StoreError(f"cannot open catalog {path} read-only: {last}")
