"""Fixtures that run storage tests against each catalog backend: SQLite and PostgreSQL.

The PostgreSQL server is a throwaway one (`stagekit.testing.postgres`) started once per
session. Without its binaries the PostgreSQL cases skip, except under ``CI=true``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stagekit.storage import Catalog, Store
from stagekit.storage.catalog import BaseCatalog
from stagekit.testing.postgres import PostgresServer, find_pg_bin, throwaway_postgres

_databases = itertools.count(1)


def _require(what: str, available: bool) -> None:
    if not available:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} is required under CI=true")
        pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the whole test session."""
    _require("PostgreSQL (Debian package postgresql)", find_pg_bin() is not None)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _require("psycopg (pip install 'stagekit[postgres]')", False)
    with throwaway_postgres() as server:
        yield server


@dataclass
class Backend:
    """One catalog backend, with a fresh empty catalog for the test."""

    name: str
    #: What `Store(path, catalog=...)` is given (None: the store's own SQLite file).
    spec: str | None

    def catalog(self, tmp_path: Path, **kwargs: Any) -> BaseCatalog:
        """A catalog at ``tmp_path`` (SQLite) or in the test's database."""
        if self.spec is None:
            return Catalog(tmp_path / "catalog.sqlite3", **kwargs)
        from stagekit.storage.postgres import PostgresCatalog

        return PostgresCatalog(self.spec, **kwargs)

    def store(self, path: Path) -> Store:
        """A store at ``path`` with this backend's catalog."""
        return Store(path, catalog=self.spec)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each catalog backend in turn."""
    if request.param == "sqlite":
        return Backend("sqlite", None)
    server: PostgresServer = request.getfixturevalue("pg_server")
    return Backend("postgresql", server.create_database(f"test_{next(_databases)}"))


def count_rows(catalog: BaseCatalog, table: str) -> int:
    """How many rows ``table`` of ``catalog`` holds."""
    with catalog._snapshot(f"counting {table}") as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def all_text(catalog: BaseCatalog) -> str:
    """Every row of every catalog table, as text (to look for what must not be there)."""
    tables = [
        "runs",
        "content",
        "artifacts",
        "content_artifacts",
        "run_units",
        "run_artifacts",
        "run_edges",
    ]
    with catalog._snapshot("dumping") as db:
        return "\n".join(repr(db.execute(f"SELECT * FROM {t}").fetchall()) for t in tables)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[Any]:
    """A throwaway S3 endpoint (moto's server mode) for the whole test session."""
    try:
        import moto.server  # noqa: F401
        import obstore  # noqa: F401
    except ImportError:
        _require("moto[server] and obstore (pip install 'stagekit[s3]' 'moto[server]')", False)
    from stagekit.testing.s3 import throwaway_s3

    with throwaway_s3() as endpoint:
        yield endpoint


@dataclass
class Artifacts:
    """Where a test's stores keep artifacts: local folders, or one fresh S3 bucket."""

    name: str
    url: str | None = None
    options: dict[str, Any] | None = None

    def store(self, path: Path, catalog: str | None = None) -> Store:
        """A store at ``path`` keeping its artifacts here."""
        if self.url is None:
            return Store(path, catalog=catalog)
        return Store(path, catalog=catalog, artifacts=self.url, artifact_options=self.options)


@pytest.fixture(params=["local", "s3"])
def artifacts(request: pytest.FixtureRequest) -> Artifacts:
    """Each artifact backend in turn."""
    if request.param == "local":
        return Artifacts("local")
    endpoint = request.getfixturevalue("s3_endpoint")
    return Artifacts("s3", f"s3://{endpoint.create_bucket()}/store", endpoint.options)
