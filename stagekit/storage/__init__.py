"""Storage: the content-addressed artifact store and its SQLite catalog."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stagekit.storage.catalog import COMPLETE_STATUSES, Catalog, RunRecords, check_sha256
    from stagekit.storage.schema import SCHEMA_VERSION
    from stagekit.storage.store import Store, TempFile

# Imported on first use: reading the catalog (``stagekit runs``) needs none of the store.
_EXPORTS = {
    "COMPLETE_STATUSES": "stagekit.storage.catalog",
    "Catalog": "stagekit.storage.catalog",
    "check_sha256": "stagekit.storage.catalog",
    "SCHEMA_VERSION": "stagekit.storage.schema",
    "RunRecords": "stagekit.storage.catalog",
    "Store": "stagekit.storage.store",
    "TempFile": "stagekit.storage.store",
}

__all__ = [
    "COMPLETE_STATUSES",
    "SCHEMA_VERSION",
    "Catalog",
    "RunRecords",
    "Store",
    "TempFile",
    "check_sha256",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stagekit.storage' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
