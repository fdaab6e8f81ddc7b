"""A remote that costs nothing: a generated tree of units with no artifacts and no I/O.

For measuring what the engine (and, on a cluster, the coordinator) costs per unit on its
own: ``NoopTree(n, fanout)`` declares units ``0..n-1``, unit ``i``'s children being
``i*fanout+1 .. i*fanout+fanout``. It holds only configuration, so it pickles.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from stagekit.context import RunContext
from stagekit.models import Content, DeclarativeContent
from stagekit.remote import Remote

__all__ = ["NoopNode", "NoopTree"]


@dataclass(frozen=True, slots=True)
class NoopNode(Content):
    """One unit of the tree."""

    kind = "noop.node"
    index: int

    def natural_key(self) -> tuple[str]:
        return (str(self.index),)


class NoopTree(Remote):
    """``n`` units in a tree of the given ``fanout``, discovered without any work."""

    def __init__(self, n: int, fanout: int = 8) -> None:
        super().__init__()
        self.n = n
        self.fanout = fanout

    def describe(self) -> str:
        return f"noop tree of {self.n} units"

    async def roots(self, ctx: RunContext) -> AsyncIterator[DeclarativeContent]:
        yield DeclarativeContent(NoopNode(0))

    async def discover(
        self, ctx: RunContext, unit: Content, dc: DeclarativeContent
    ) -> AsyncIterator[DeclarativeContent]:
        assert isinstance(unit, NoopNode)
        first = unit.index * self.fanout + 1
        for index in range(first, min(first + self.fanout, self.n)):
            yield DeclarativeContent(NoopNode(index))
