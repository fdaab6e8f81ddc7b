"""The content stages: what the catalog already knows, and saving units to it."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from typing import Any

from stagekit.models import DeclarativeContent
from stagekit.pipeline import Stage
from stagekit.stages._finish import to_thread_to_the_end
from stagekit.stages.resolve import report_saved
from stagekit.status import unit_status_of
from stagekit.storage import Store
from stagekit.storage.catalog import BaseCatalog
from stagekit.urls import redact_url

__all__ = ["ContentSaver", "QueryExistingContents", "catalog_rows", "unit_status"]


def unit_status(dc: DeclarativeContent) -> str:
    """A saved unit's status from its artifacts: the rule of `stagekit.status`."""
    return unit_status_of((da.status for da in dc.d_artifacts),
                          known_before=bool(dc.extra_data.get("existing")))


class QueryExistingContents(Stage):
    """Mark units the catalog already holds complete from an earlier run."""

    def __init__(self, store: Store, minsize: int = 500) -> None:
        self.store = store
        self.minsize = minsize

    async def run(self) -> None:
        """One catalog query per batch."""
        catalog = self.store.catalog
        async for batch in self.batches(self.minsize):
            known = await asyncio.to_thread(catalog.existing_contents, [dc.key for dc in batch])
            for dc in batch:
                if dc.key in known:
                    dc.extra_data["existing"] = True
                await self.put(dc)


# Field names per dataclass, looked up once per class rather than once per unit.
_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    names = _FIELD_NAMES.get(cls, ())
    if names == ():
        names = (tuple(f.name for f in dataclasses.fields(cls))
                 if dataclasses.is_dataclass(cls) else None)
        _FIELD_NAMES[cls] = names
    return names


def _fields(content: Any) -> dict[str, Any]:
    names = _field_names(type(content))
    if names is not None:
        return {name: getattr(content, name) for name in names}
    return dict(getattr(content, "__dict__", {}))


def catalog_rows(batch: list[DeclarativeContent]) -> dict[str, list[Any]]:
    """The ``contents``, ``artifacts`` and ``links`` of `Catalog.save_batch` for ``batch``."""
    contents, artifacts, links = [], {}, []
    for dc in batch:
        size = 0
        for da in dc.d_artifacts:
            artifact = da.artifact
            if artifact is not None:
                size += artifact.size
                artifacts[artifact.sha256] = artifact
            links.append({
                "key": dc.key,
                "relative_path": da.relative_path,
                "url": redact_url(da.url),
                "sha256": artifact.sha256 if artifact is not None else None,
                "size": artifact.size if artifact is not None else da.size,
                "status": da.status,
                "tries": da.tries,
                "deferred": da.deferred,
                "digests": da.digests,
                # Kept (in the run's record) for a deferred file: `stagekit.diff` compares it.
                **({"declared_sha256": da.digests["sha256"]}
                   if artifact is None and "sha256" in da.digests else {}),
            })
        contents.append({
            "kind": dc.content.kind,
            "natural_key": dc.content.natural_key(),
            "key": dc.key,
            "fields": _fields(dc.content),
            "depth": dc.depth,
            "status": unit_status(dc),
            "size": size,
        })
    return {"contents": contents, "artifacts": list(artifacts.values()), "links": links}


def _save_rows(catalog: BaseCatalog, run_id: int, batch: list[DeclarativeContent]) -> list[Any]:
    """Save ``batch`` (`catalog_rows`) in one transaction; its content rows."""
    rows = catalog_rows(batch)
    catalog.save_batch(run_id, **rows)
    contents: list[Any] = rows["contents"]
    return contents


class ContentSaver(Stage):
    """Write units, their artifacts and content-artifact links to the catalog, per batch."""

    def __init__(self, store: Store, run_id: int | None = None, minsize: int = 1000) -> None:
        self.store = store
        self.run_id = run_id
        self.minsize = minsize

    async def run(self) -> None:
        """Save each batch in one transaction, off the loop, then pass the units on."""
        catalog = self.store.catalog
        if self.run_id is None:
            self.run_id = await asyncio.to_thread(catalog.start_run, "pipeline", {})
        async for batch in self.batches(self.minsize):
            # The rows are built in the thread too: a batch of them would hold the loop.
            contents, cancelled = await to_thread_to_the_end(
                functools.partial(_save_rows, catalog, self.run_id, batch))
            # Saved even when the run was cancelled meanwhile: report them all the same.
            for dc, row in zip(batch, contents, strict=True):
                report_saved(self, dc, row["status"])
            if cancelled:
                raise asyncio.CancelledError
            for dc in batch:
                await self.put(dc)
