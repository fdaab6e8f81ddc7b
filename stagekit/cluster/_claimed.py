"""The worker's artifact stages, with the run's file statuses decided by its claims.

`ClaimedQuery` and `ClaimingSaver` are the sync stages `QueryExistingArtifacts` and
`ArtifactSaver` of one process, except for the status of a file the store holds:
"downloaded", "shared" or "existing" follows the run's claims in the catalog (see
`_claims`), not what this worker process happens to remember.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from stagekit.cluster._claims import Claims, owner_of, status_of
from stagekit.models import DeclarativeArtifact, DeclarativeContent
from stagekit.pipeline import DEFAULT_MAX_WAIT
from stagekit.stages.artifacts import ArtifactSaver, QueryExistingArtifacts

__all__ = ["ClaimedQuery", "ClaimingSaver"]


class ClaimedQuery(QueryExistingArtifacts):
    """`QueryExistingArtifacts`; a found file's status follows the run's claims."""

    def __init__(self, claims: Claims, **kwargs: Any) -> None:
        super().__init__(claims.store, **kwargs)
        self.claims = claims

    def _attach_existing(self, batch: list[DeclarativeContent]) -> None:
        super()._attach_existing(batch)
        found = [(dc, da) for dc in batch for da in dc.d_artifacts
                 if da.artifact is not None and da.status in ("existing", "shared")]
        if not found:
            return
        owners = self.claims.owners(da.artifact.sha256 for _dc, da in found if da.artifact)
        for dc, da in found:
            assert da.artifact is not None
            da.status = status_of(owners, da.artifact.sha256, owner_of(dc, da))


class ClaimingSaver(ArtifactSaver):
    """`ArtifactSaver` that claims the new files of each batch before storing them."""

    def __init__(self, claims: Claims, **kwargs: Any) -> None:
        # One batch at a time: a batch's claims stay on the stage until it is handed on.
        kwargs.setdefault("depth", 1)
        super().__init__(claims.store, **kwargs)
        self.claims = claims
        self._owners: dict[str, str] = {}
        self._claimant: dict[int, str] = {}

    async def batches(self, minsize: int = 500, max_wait: float | None = DEFAULT_MAX_WAIT
                      ) -> AsyncIterator[list[DeclarativeContent]]:
        async for batch in super().batches(minsize, max_wait):
            items = []
            self._claimant = {}
            for dc in batch:
                for da in dc.d_artifacts:
                    if da.download is not None:
                        owner = owner_of(dc, da)
                        self._claimant[id(da)] = owner
                        items.append((da.download.digests["sha256"], da.download.size, owner))
            # Claimed before the files are committed: a stored file always has its claim.
            self._owners = await asyncio.to_thread(self.claims.claim, items) if items else {}
            yield batch

    def _mark_known(self, downloads: list[DeclarativeArtifact], held: set[str]) -> None:
        owners, claimant = self._owners, self._claimant
        for da in downloads:
            if da.artifact is not None:
                da.status = status_of(owners, da.artifact.sha256, claimant[id(da)])
