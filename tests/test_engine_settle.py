"""The engine settled in bulk by the next stage (as a cluster's does) finds what it finds
with a future per unit: same units, shortest depths, edges, max_depth, and it ends."""

from __future__ import annotations

import asyncio
import random
from collections import deque

import pytest

from stagekit.engine import DiscoveryEngine
from stagekit.events import EventBus
from stagekit.models import DeclarativeContent
from stagekit.pipeline import Stage, create_pipeline
from stagekit.records import RunRecorder
from tests.graphs import GraphRemote, bfs_depths, key
from tests.test_discovery import Found, explore

TIMEOUT = 30


class BulkSettler(Stage):
    """Takes the engine's units, explores each batch itself (out of order, as workers
    answer), and settles the engine with the children, many units at a time."""

    name = "BulkSettler"

    def __init__(self, engine: DiscoveryEngine, remote: GraphRemote, seed: int,
                 max_depth: int | None) -> None:
        self.engine = engine
        engine.settled_by_next = True
        self.remote = remote
        self.random = random.Random(seed)
        self.max_depth = max_depth
        self.saved: list[str] = []

    async def run(self) -> None:
        queue: deque[DeclarativeContent] = deque()
        while True:
            dc = await self.next_item()
            if dc is None:
                break
            queue.append(dc)
            while queue:
                size = self.random.randint(1, 5)
                batch = [queue.pop() for _ in range(min(size, len(queue)))]  # newest first
                units = []
                for unit in batch:
                    self.saved.append(unit.key)
                    if not self.engine.awaits(unit):
                        continue
                    children: list[DeclarativeContent] | Exception | None = None
                    if self.max_depth is None or unit.depth < self.max_depth:
                        try:
                            children = [c async for c in self.remote.discover(
                                None, unit.content, unit)]
                        except Exception as exc:  # as a worker sends it back
                            children = exc
                    units.append((unit, children))
                queue.extend(self.engine.settle(units))


async def _settled(remote: GraphRemote, seed: int, max_depth: int | None = None
                   ) -> tuple[Found, DiscoveryEngine]:
    events = EventBus()
    records = RunRecorder()
    events.subscribe(records)
    engine = DiscoveryEngine(remote, max_depth=max_depth)
    settler = BulkSettler(engine, remote, seed, max_depth)
    async with asyncio.timeout(TIMEOUT):
        await create_pipeline([engine, settler], events=events)
    return Found(settler.saved, records), engine


def _graph(seed: int, n: int = 120) -> dict[str, list[str]]:
    rng = random.Random(seed)
    names = [f"g{i}" for i in range(n)]
    # Cycles, a unit listed twice by one parent, long and short paths to one unit.
    return {name: [rng.choice(names) for _ in range(rng.randint(0, 4))] for name in names}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("max_depth", [None, 3])
async def test_bulk_settling_finds_the_units_depths_and_edges_of_one_process(
        seed: int, max_depth: int | None) -> None:
    graph = _graph(seed)
    roots = ["g0", "g1"]
    alone = await explore(GraphRemote(graph, roots, max_depth=max_depth))
    found, engine = await _settled(GraphRemote(graph, roots, max_depth=max_depth), seed,
                                   max_depth)
    depths, edges = bfs_depths(graph, roots, max_depth)
    assert found.depths() == alone.depths() == depths
    assert found.edges == alone.edges == edges
    assert sorted(found.saved) == sorted(alone.saved)  # each unit handled once
    assert len(found.saved) == len(set(found.saved))
    assert engine._futures == 0


async def test_a_discover_that_failed_elsewhere_fails_its_unit_and_the_run_goes_on() -> None:
    graph = {"r": ["a", "b"], "a": ["a1"], "b": ["b1"]}
    remote = GraphRemote(graph, ["r"], fail_in=lambda name: name == "a")
    found, _engine = await _settled(remote, 0)
    assert found.depths() == {key(n): d for n, d in
                              {"r": 0, "a": 1, "b": 1, "b1": 2}.items()}
    assert key("a") in {k for k, r in found.records.units.items() if r.status == "failed"}
