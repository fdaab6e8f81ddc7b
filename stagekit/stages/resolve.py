"""The stage that tells the first stage a unit is saved."""

from __future__ import annotations

from stagekit.events import UnitFinished
from stagekit.pipeline import Stage

__all__ = ["ResolveContentFutures"]


class ResolveContentFutures(Stage):
    """Resolve each unit's future (if any) with the saved unit and report it finished."""

    async def run(self) -> None:
        """Resolve, report, pass on."""
        events = self.events
        async for dc in self.items():
            if dc.status is None:
                dc.status = "downloaded"
            dc.resolve()
            if events.active:
                size = sum(da.artifact.size for da in dc.d_artifacts if da.artifact is not None)
                events.emit(UnitFinished(dc.key, dc.status, None, size))
            await self.put(dc)
