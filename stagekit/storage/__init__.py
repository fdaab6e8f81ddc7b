"""Storage: the content-addressed artifact store and its SQLite catalog."""

from stagekit.storage.catalog import COMPLETE_STATUSES, Catalog, RunRecords, check_sha256
from stagekit.storage.schema import SCHEMA_VERSION
from stagekit.storage.store import Store, TempFile

__all__ = [
    "COMPLETE_STATUSES",
    "SCHEMA_VERSION",
    "Catalog",
    "RunRecords",
    "Store",
    "TempFile",
    "check_sha256",
]
