"""The PostgreSQL catalog: the SQLite catalog's schema and API in a shared database.

Several coordinators (machines, processes) may open one catalog at once: writes are
upserts in one transaction per batch, retried when PostgreSQL picks one of two writers
as a deadlock victim. Connections come from a small psycopg pool, so readers do not wait
on a writer. Needs the ``stagekit[postgres]`` extra (psycopg 3 and psycopg_pool).

Whether a run still marked ``running`` belongs to a live store is told by PostgreSQL
itself: an open store holds a session advisory lock on its session name for as long as
its connection lives, wherever it runs.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from stagekit.errors import ConfigurationError, StoreError
from stagekit.storage._dialect import POSTGRES, Db
from stagekit.storage._pg_schema import prepare_database
from stagekit.storage._rows import from_json
from stagekit.storage.catalog import BaseCatalog
from stagekit.urls import redact_text, redact_url

__all__ = ["PostgresCatalog", "is_postgres_url"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_SCHEMES = ("postgresql://", "postgres://")
_DEADLOCK_RETRIES = 5


def is_postgres_url(spec: object) -> bool:
    """Whether ``spec`` names a PostgreSQL catalog (``postgresql://...``)."""
    return isinstance(spec, str) and spec.lower().startswith(_SCHEMES)


def _psycopg() -> tuple[Any, Any]:
    try:
        import psycopg
        import psycopg_pool
    except ImportError as exc:
        raise ConfigurationError(
            "a postgresql:// catalog needs psycopg 3 and psycopg_pool:"
            " pip install 'stagekit[postgres]'"
        ) from exc
    return psycopg, psycopg_pool


class PostgresCatalog(BaseCatalog):
    """A catalog in a PostgreSQL database, shared by any number of stores.

    ``session``: the opening store's session name; while this catalog is open, runs
    recorded with it count as live for every other coordinator's `mark_interrupted`.
    """

    def __init__(
        self,
        url: str,
        *,
        artifact_exists: Callable[[str, int | None], bool] | None = None,
        session: str | None = None,
        max_connections: int = 4,
    ) -> None:
        psycopg, psycopg_pool = _psycopg()
        self._errors: type[Exception] = psycopg.Error
        self._retryable: tuple[type[Exception], ...] = (
            psycopg.errors.DeadlockDetected,
            psycopg.errors.SerializationFailure,
        )
        self.url = url
        self.where = redact_url(url)
        self._artifact_exists = artifact_exists
        self._local = threading.local()
        self._session_conn: Any = None
        try:
            self._pool = psycopg_pool.ConnectionPool(
                url,
                min_size=1,
                max_size=max(1, max_connections),
                kwargs={"autocommit": True},
                open=False,
                name="stagekit-catalog",
            )
            self._pool.open(wait=True, timeout=30.0)
        except (self._errors, psycopg_pool.PoolTimeout) as exc:
            raise StoreError(f"cannot open catalog {self.where}: {redact_text(str(exc))}") from exc
        try:
            with self._guard("preparing the schema"), self._pool.connection() as conn:
                prepare_database(conn, self.where)
            if session is not None:
                self._claim_session(psycopg, session)
        except BaseException:
            self._pool.close()
            raise

    def _claim_session(self, psycopg: Any, session: str) -> None:
        with self._guard("claiming the store session"):
            self._session_conn = psycopg.connect(self.url, autocommit=True)
            self._session_conn.execute(
                "SELECT pg_advisory_lock(hashtextextended(%s, 0))", (session,)
            )

    def close(self) -> None:
        """Close the pool and release the store session (idempotent)."""
        if self._session_conn is not None:
            conn, self._session_conn = self._session_conn, None
            # Released now, not when the server notices the closed socket.
            with contextlib.suppress(self._errors):
                conn.execute("SELECT pg_advisory_unlock_all()")
            conn.close()
        self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresCatalog({self.where!r})"

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except self._errors as exc:
            message = redact_text(str(exc).strip())
            raise StoreError(f"catalog {self.where}: {what} failed: {message}") from exc

    @contextmanager
    def _connection(self, what: str, *, read_only: bool) -> Iterator[Db]:
        current: Db | None = getattr(self._local, "db", None)
        if current is not None:  # nested: join the outer transaction
            yield current
            return
        with self._guard(what), self._pool.connection() as conn, conn.transaction():
            if read_only:
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            db = Db(conn, POSTGRES, POSTGRES.max_params or 65_535)
            self._local.db = db
            try:
                yield db
            finally:
                self._local.db = None

    def transaction(self) -> Any:
        """One write transaction (nested calls join the outer one); rolled back on error."""
        return self._connection("write transaction", read_only=False)

    def _snapshot(self, what: str) -> Any:
        return self._connection(what, read_only=True)

    def _write(self, body: Callable[[Db], T]) -> T:
        if getattr(self._local, "db", None) is not None:
            return super()._write(body)
        for attempt in range(_DEADLOCK_RETRIES):
            try:
                return super()._write(body)
            except StoreError as exc:
                if not isinstance(exc.__cause__, self._retryable):
                    raise
                if attempt == _DEADLOCK_RETRIES - 1:
                    raise
                log.info("catalog %s: write lost a deadlock, retrying", self.where)
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def mark_interrupted(self, live: set[str]) -> int:
        """Mark ``interrupted`` the runs still ``running`` whose store is gone: no
        coordinator holds their session (``live`` sessions are spared too)."""
        with self.transaction() as db:
            rows = db.execute("SELECT id, params FROM runs WHERE status = 'running'").fetchall()
            dead: list[tuple[int]] = []
            for run_id, params in rows:
                session = from_json(params).get("session")
                if not session or session in live:
                    continue
                free = db.execute(
                    "SELECT pg_try_advisory_lock(hashtextextended(?, 0))", (session,)
                ).fetchone()[0]
                if free:
                    db.execute("SELECT pg_advisory_unlock(hashtextextended(?, 0))", (session,))
                    dead.append((run_id,))
            if dead:
                db.executemany("UPDATE runs SET status = 'interrupted' WHERE id = ?", dead)
        if dead:
            log.info("catalog %s: %d run(s) interrupted by a dead process", self.where, len(dead))
        return len(dead)
