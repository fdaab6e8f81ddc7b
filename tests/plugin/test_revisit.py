"""A unit reached by paths that allow different children gets the union, in any order."""

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

# r -> a (allowing x), r -> b -> a (allowing y); a lists x, y and z; z is never allowed.
GRAPH = {"r": [("b", set()), ("a", {"x"})], "b": [("a", {"y"})], "a": [("x", set()),
         ("y", set()), ("z", set())], "x": [("x1", set())]}


class PathDependent(Remote):
    """Children of a unit are those its path allows (like Maven exclusions, or extras)."""

    def __init__(self, hold: tuple[str, str]) -> None:
        super().__init__()
        self.hold = hold  # this edge is declared only once the other path explored a
        self.gate: asyncio.Event | None = None
        self.explorations: list[tuple[str, frozenset[str]]] = []

    def unit(self, name: str, allow: set[str]) -> DeclarativeContent:
        return DeclarativeContent(GraphNode(name), extra_data={"allow": frozenset(allow)})

    async def roots(self, ctx):
        self.gate = asyncio.Event()
        yield self.unit("r", set())

    async def discover(self, ctx, unit, dc):
        allow = dc.extra_data["allow"]
        self.explorations.append((unit.name, allow))
        assert self.gate is not None
        for child, child_allow in GRAPH.get(unit.name, []):
            if unit.name == "a" and child not in allow:
                continue
            if (unit.name, child) == self.hold:
                await self.gate.wait()
            yield self.unit(child, child_allow)
        if unit.name == "a":
            self.gate.set()  # the first exploration of a is done: let the other path in

    def revisit(self, known, found):
        merged = known.extra_data["allow"] | found.extra_data["allow"]
        return None if merged == known.extra_data["allow"] else {"allow": merged}


@pytest.mark.parametrize("hold", [("b", "a"), ("r", "a")])
async def test_union_of_paths_whatever_the_order(hold) -> None:
    remote = PathDependent(hold)
    records = RunRecorder()
    events = EventBus()
    events.subscribe(records)
    saver = MemorySaver()
    stages = [stagekit.engine.DiscoveryEngine(remote), saver,
              stagekit.stages.ResolveContentFutures()]
    async with asyncio.timeout(30):
        await stagekit.create_pipeline(stages, events=events)
    assert records.depths() == {key("r"): 0, key("a"): 1, key("b"): 1, key("x"): 2,
                                key("y"): 2, key("x1"): 3}
    assert (key("a"), key("x"), None) in records.edge_set()
    assert (key("a"), key("y"), None) in records.edge_set()
    assert sorted(saver.saved) == sorted(records.depths())  # each unit saved once
    assert sorted(allow for name, allow in remote.explorations if name == "a")[-1] == {"x", "y"}
