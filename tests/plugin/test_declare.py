"""`RunContext.declare`: a unit put under an already explored parent, or as a late root."""

from __future__ import annotations

import asyncio

import pytest

import stagekit
import stagekit.engine
import stagekit.stages
from stagekit import DeclarativeContent, Remote
from stagekit.events import EventBus
from stagekit.records import RunRecorder
from stagekit.testing.stages import MemorySaver
from tests.graphs import GraphNode, key


class LateChildren(Remote):
    """r -> a, r -> b; exploring b declares "late" and b under a (explored by then), and
    a root "root2"."""

    def __init__(self) -> None:
        super().__init__()
        self.dcs: dict[str, DeclarativeContent] = {}
        self.a_explored: asyncio.Event | None = None

    async def roots(self, ctx):
        self.a_explored = asyncio.Event()
        yield DeclarativeContent(GraphNode("r"))

    async def discover(self, ctx, unit, dc):
        assert self.a_explored is not None
        self.dcs[unit.name] = dc
        if unit.name == "r":
            yield DeclarativeContent(GraphNode("a"), relation="needs")
            yield DeclarativeContent(GraphNode("b"), relation="needs")
        elif unit.name == "a":
            self.a_explored.set()
        elif unit.name == "b":
            await self.a_explored.wait()
            ctx.declare(DeclarativeContent(GraphNode("late"), relation="re-pointed"),
                        parent=self.dcs["a"])
            ctx.declare(DeclarativeContent(GraphNode("root2")))
            ctx.declare(DeclarativeContent(GraphNode("b"), relation="again"),
                        parent=self.dcs["a"])  # known: only linked
        elif unit.name == "late":
            yield DeclarativeContent(GraphNode("leaf"))


async def test_declared_units_are_linked_explored_and_counted() -> None:
    remote = LateChildren()
    records = RunRecorder()
    events = EventBus()
    events.subscribe(records)
    saver = MemorySaver()
    stages = [stagekit.engine.DiscoveryEngine(remote), saver,
              stagekit.stages.ResolveContentFutures()]
    async with asyncio.timeout(30):
        await stagekit.create_pipeline(stages, events=events)
    assert records.depths() == {key("r"): 0, key("a"): 1, key("b"): 1, key("late"): 2,
                                key("leaf"): 3, key("root2"): 0}
    assert records.edge_set() == {
        (key("r"), key("a"), "needs"), (key("r"), key("b"), "needs"),
        (key("a"), key("late"), "re-pointed"), (key("late"), key("leaf"), None),
        (key("a"), key("b"), "again")}
    assert sorted(saver.saved) == sorted(records.depths())  # each unit put once


def test_declare_needs_an_engine_that_takes_late_units() -> None:
    from stagekit.context import RunContext

    ctx = RunContext(None, None, EventBus(), "continue", None, "immediate",  # type: ignore[arg-type]
                     lambda *a: None)
    with pytest.raises(RuntimeError, match="outside discover"):
        ctx.declare(DeclarativeContent(GraphNode("x")))
