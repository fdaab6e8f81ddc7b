"""The stage that tells the first stage a unit is saved."""

from __future__ import annotations

from stagekit.events import UnitFinished
from stagekit.models import DeclarativeContent
from stagekit.pipeline import Stage

__all__ = ["ResolveContentFutures", "report_saved", "report_saved_batch"]


def report_saved(stage: Stage, dc: DeclarativeContent, status: str) -> None:
    """Set ``dc``'s final status and report it finished (done by the stage that saves it)."""
    dc.status = status
    events = stage.events
    if events.active:
        size = 0
        for da in dc.d_artifacts:
            if da.artifact is not None:
                size += da.artifact.size
        events.emit(UnitFinished(dc.key, status, None, size))


def report_saved_batch(stage: Stage, batch: list[DeclarativeContent], statuses: list[str]
                       ) -> None:
    """`report_saved` of each unit of ``batch`` with its status in ``statuses``."""
    events = stage.events
    if not events.active:
        for dc, status in zip(batch, statuses, strict=True):
            dc.status = status
        return
    emit = events.emit
    for dc, status in zip(batch, statuses, strict=True):
        dc.status = status
        size = 0
        for da in dc.d_artifacts:
            if da.artifact is not None:
                size += da.artifact.size
        emit(UnitFinished(dc.key, status, None, size))


class ResolveContentFutures(Stage):
    """Resolve each unit's future (if any) with the saved unit.

    A unit that no earlier stage reported as saved (a pipeline without `ContentSaver`) is
    reported here as downloaded.
    """

    async def run(self) -> None:
        """Resolve and pass on, what arrived together handed on together."""
        async for units in self.available():
            for dc in units:
                if dc.status is None:
                    report_saved(self, dc, "downloaded")
                dc.resolve()
            await self._put_batch(units)
