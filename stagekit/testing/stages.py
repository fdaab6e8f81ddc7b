"""Stages for testing a remote without network or store."""

from __future__ import annotations

from stagekit.pipeline import Stage
from stagekit.stages.resolve import report_saved

__all__ = ["MemorySaver"]


class MemorySaver(Stage):
    """Pretend to save every unit: mark it downloaded and remember it, in order."""

    def __init__(self) -> None:
        self.saved: list[str] = []

    async def run(self) -> None:
        """Record and pass on every unit."""
        async for dc in self.items():
            report_saved(self, dc, "downloaded")
            self.saved.append(dc.key)
            await self.put(dc)
