"""The engine keeps no node per leaf: dedup, edges and shortest depths still hold for leaves."""

from __future__ import annotations

import asyncio

from stagekit.models import DeclarativeContent
from tests.graphs import GraphRemote, key
from tests.test_discovery import assert_matches, explore


class LeafRemote(GraphRemote):
    """Units named ``leaf*`` get no future; ``late`` lists its children only once
    ``leaf`` was declared, so the shorter path to it is found second."""

    def __init__(self, graph: dict[str, list[str]], roots: list[str]) -> None:
        super().__init__(graph, roots)
        self.leaf_seen = asyncio.Event()

    def _make(self, name: str) -> DeclarativeContent:
        if name == "leaf":
            self.leaf_seen.set()
        return super()._make(name)

    async def discover(self, ctx, unit, dc):
        if unit.name == "late":
            await self.leaf_seen.wait()
        async for child in super().discover(ctx, unit, dc):
            yield child

    def has_children(self, dc: DeclarativeContent) -> bool:
        return not dc.content.name.startswith("leaf")


async def test_leaf_found_deep_first_gets_the_shorter_depth_and_both_edges():
    graph = {"r": ["a1", "late"], "a1": ["a2"], "a2": ["a3"], "a3": ["leaf"], "late": ["leaf"]}
    remote = LeafRemote(graph, ["r"])
    found = await explore(remote)
    assert_matches(found, graph, ["r"])
    assert found.depths()[key("leaf")] == 2
    assert found.saved.count(key("leaf")) == 1
    assert all(dc.future is None for dc in remote.made if dc.content.name == "leaf")


async def test_leaf_depth_follows_its_parent_reached_by_a_shorter_path():
    # m is explored at depth 4 (its leaf at 5) before `late` reaches m at depth 2.
    graph = {"r": ["a1", "late"], "a1": ["a2"], "a2": ["a3"], "a3": ["m"],
             "m": ["leaf", "leaf2"], "late": ["m"]}
    remote = LeafRemote(graph, ["r"])
    found = await explore(remote)
    assert_matches(found, graph, ["r"])
    assert found.depths()[key("leaf")] == 3
    assert found.depths()[key("leaf2")] == 3
    assert remote.explored.count("m") == 1
