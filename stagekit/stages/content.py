"""The content stages: what the catalog already knows, and saving units to it."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from stagekit.models import DeclarativeContent
from stagekit.pipeline import Stage
from stagekit.stages._finish import to_thread_to_the_end
from stagekit.stages.resolve import report_saved_batch
from stagekit.status import ARTIFACT_STATUSES, unit_status_of
from stagekit.storage import Store
from stagekit.storage._declared import content_fields
from stagekit.storage.catalog import BaseCatalog
from stagekit.urls import redact_url

__all__ = ["ContentSaver", "QueryExistingContents", "catalog_rows", "unit_status"]


def unit_status(dc: DeclarativeContent) -> str:
    """A saved unit's status from its artifacts: the rule of `stagekit.status`."""
    artifacts = dc.d_artifacts
    if len(artifacts) == 1:  # the usual unit: its one artifact's status is the unit's
        status = artifacts[0].status
        if status is None:
            return "downloaded"
        if status in ARTIFACT_STATUSES:
            return status
    return unit_status_of([da.status for da in artifacts],
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
            await self._put_batch(batch)


def catalog_rows(batch: list[DeclarativeContent]) -> dict[str, list[Any]]:
    """The ``contents``, ``artifacts`` and ``links`` of `Catalog.save_batch` for ``batch``."""
    contents: list[dict[str, Any]] = []
    artifacts: dict[str, Any] = {}
    links: list[dict[str, Any]] = []
    for dc in batch:
        size = 0
        for da in dc.d_artifacts:
            artifact = da.artifact
            digests = da.digests
            if artifact is not None:
                size += artifact.size
                artifacts[artifact.sha256] = artifact
                link = {
                    "key": dc.key, "relative_path": da.relative_path, "url": redact_url(da.url),
                    "sha256": artifact.sha256, "size": artifact.size, "status": da.status,
                    "tries": da.tries, "deferred": da.deferred, "digests": digests,
                }
            else:
                link = {
                    "key": dc.key, "relative_path": da.relative_path, "url": redact_url(da.url),
                    "sha256": None, "size": da.size, "status": da.status,
                    "tries": da.tries, "deferred": da.deferred, "digests": digests,
                }
                if "sha256" in digests:
                    # Kept (in the run's record) for a deferred file: `stagekit.diff`
                    # compares it.
                    link["declared_sha256"] = digests["sha256"]
            links.append(link)
        content = dc.content
        contents.append({
            "kind": content.kind,
            "natural_key": dc.identity[1],
            "key": dc.key,
            "fields": content_fields(content),
            "depth": dc.depth,
            "status": unit_status(dc),
            "size": size,
        })
    return {"contents": contents, "artifacts": list(artifacts.values()), "links": links}


def _save_units(catalog: BaseCatalog, run_id: int, batch: list[DeclarativeContent]) -> list[str]:
    """Save ``batch`` in one transaction (the rows of `catalog_rows`); its units' statuses."""
    statuses = [unit_status(dc) for dc in batch]
    catalog.save_declared(run_id, batch, statuses)
    return statuses


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
            statuses, cancelled = await to_thread_to_the_end(
                functools.partial(_save_units, catalog, self.run_id, batch))
            # Saved even when the run was cancelled meanwhile: report them all the same.
            report_saved_batch(self, batch, statuses)
            if cancelled:
                raise asyncio.CancelledError
            await self._put_batch(batch)
