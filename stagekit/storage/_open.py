"""Choosing the catalog a `Store` opens: the embedded SQLite file, or a shared database."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from stagekit.errors import ConfigurationError
from stagekit.storage.catalog import BaseCatalog, Catalog
from stagekit.storage.postgres import PostgresCatalog, is_postgres_url
from stagekit.urls import redact_url

__all__ = ["open_catalog"]


def open_catalog(
    spec: str | os.PathLike[str] | None,
    default_path: Path,
    *,
    artifact_exists: Callable[[str, int | None], bool],
    session: str,
) -> BaseCatalog:
    """The catalog ``spec`` names: None for the store's own SQLite file, a
    ``postgresql://`` URL, or the path of another SQLite file."""
    if spec is None:
        return Catalog(default_path, artifact_exists=artifact_exists)
    if is_postgres_url(spec):
        return PostgresCatalog(str(spec), artifact_exists=artifact_exists, session=session)
    if isinstance(spec, os.PathLike) or (isinstance(spec, str) and "://" not in spec):
        return Catalog(Path(spec), artifact_exists=artifact_exists)
    raise ConfigurationError(
        f"catalog {redact_url(str(spec))!r}: expected a postgresql:// URL or a SQLite file path"
    )
