"""Discovery: futures, dedup, depth, max_depth and the stopping problem, on in-memory graphs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from stagekit.engine import DiscoveryEngine
from stagekit.errors import UnitNotResolvedError
from stagekit.events import EventBus, UnitFinished
from stagekit.pipeline import Stage, create_pipeline
from stagekit.records import RunRecorder
from stagekit.stages import ResolveContentFutures
from stagekit.testing.stages import MemorySaver
from tests.graphs import GraphRemote, bfs_depths, chain, key, tree

TIMEOUT = 30


@dataclass
class Found:
    """What a bare pipeline over a remote saved, and what its events recorded."""

    saved: list[str]
    records: RunRecorder

    def depths(self) -> dict[str, int]:
        return self.records.depths()

    @property
    def edges(self) -> set[tuple[str, str, str | None]]:
        return self.records.edge_set()


async def explore(remote: GraphRemote, *extra: Stage, maxsize: int = 100, events=None) -> Found:
    saver = MemorySaver()
    records = RunRecorder()
    events = events or EventBus()
    events.subscribe(records)
    async with asyncio.timeout(TIMEOUT):
        await create_pipeline(
            [DiscoveryEngine(remote), *extra, saver, ResolveContentFutures()],
            maxsize=maxsize, events=events,
        )
    return Found(saver.saved, records)


def assert_matches(found: Found, graph, roots, max_depth=None):
    depths, edges = bfs_depths(graph, roots, max_depth)
    assert found.depths() == depths
    assert found.edges == edges


async def test_flat_remote_creates_no_futures():
    names = [f"f{i}" for i in range(10_000)]
    remote = GraphRemote({}, names, flat=True)
    found = await explore(remote)
    assert found.saved == [key(n) for n in names]
    assert all(dc.future is None for dc in remote.made)
    assert found.depths() == {key(n): 0 for n in names}
    assert found.edges == set()


async def test_known_depth_three_levels():
    graph = {"r": ["a", "b"], "a": ["a1", "a2"], "b": ["b1"], "a1": ["x"], "b1": ["y"]}
    remote = GraphRemote(graph, ["r"])
    found = await explore(remote)
    assert_matches(found, graph, ["r"])
    names = ["r", "a", "b", "a1", "a2", "b1", "x", "y"]
    assert sorted(found.saved) == sorted(key(n) for n in names)
    assert max(found.depths().values()) == 3


async def test_chain_ten_thousand_deep_without_recursion_limit():
    graph = chain(10_000)
    remote = GraphRemote(graph, ["n0"])
    found = await explore(remote)
    assert len(found.saved) == 10_000
    assert found.depths()[key("n9999")] == 9999
    assert_matches(found, graph, ["n0"])


async def test_complete_tree_fanout_4_depth_7():
    graph = tree(4, 7)
    remote = GraphRemote(graph, ["t"])
    found = await explore(remote)
    assert len(found.saved) == sum(4**d for d in range(8))
    assert_matches(found, graph, ["t"])
    # every unit saved exactly once
    assert len(set(found.saved)) == len(found.saved)


async def test_diamond_is_fetched_once_with_two_parents():
    graph = {"top": ["left", "right"], "left": ["bottom"], "right": ["bottom"], "bottom": ["leaf"]}
    remote = GraphRemote(graph, ["top"])
    found = await explore(remote)
    assert found.saved.count(key("bottom")) == 1
    assert remote.explored.count("bottom") == 1
    assert {(p, c) for p, c, _ in found.edges if c == key("bottom")} == {
        (key("left"), key("bottom")),
        (key("right"), key("bottom")),
    }
    assert_matches(found, graph, ["top"])


async def test_cycle_ends():
    graph = {"a": ["b"], "b": ["c"], "c": ["a", "d"]}
    remote = GraphRemote(graph, ["a"])
    found = await explore(remote)
    assert sorted(found.saved) == [key("a"), key("b"), key("c"), key("d")]
    assert (key("c"), key("a"), None) in found.edges
    assert_matches(found, graph, ["a"])


async def test_unit_at_depth_5_and_2_with_max_depth_3():
    graph = {
        "r": ["a1", "b1"],
        "a1": ["a2"], "a2": ["a3"], "a3": ["a4"], "a4": ["x"],
        "b1": ["x"],
        "x": ["y"], "y": ["z"],
    }
    remote = GraphRemote(graph, ["r"], max_depth=3)
    found = await explore(remote)
    assert_matches(found, graph, ["r"], max_depth=3)
    assert found.depths()[key("x")] == 2
    assert found.depths()[key("y")] == 3
    assert key("z") not in found.depths()
    assert key("a4") not in found.depths()
    assert len(found.saved) == len(found.depths())


async def test_unit_cut_off_at_max_depth_is_explored_when_reached_by_a_shorter_path():
    # x is first found at depth 3 (= max_depth, not explored) through the fast branch,
    # then at depth 2 through b1, whose discovery waits until x has been saved.
    graph = {"r": ["a1", "b1"], "a1": ["a2"], "a2": ["x"], "b1": ["x"], "x": ["y"], "y": ["z"]}
    gate = asyncio.Event()
    remote = GraphRemote(graph, ["r"], max_depth=3, gates={"b1": gate})

    class OpenGateWhenXSaved(Stage):
        async def run(self):
            async for dc in self.items():
                await self.put(dc)
                if dc.content.name == "x":
                    gate.set()

    found = await explore(remote, OpenGateWhenXSaved())
    assert found.depths()[key("x")] == 2
    assert found.depths()[key("y")] == 3
    assert key("z") not in found.depths()
    assert remote.explored.count("x") == 1
    assert_matches(found, graph, ["r"], max_depth=3)


async def test_depth_lowering_propagates_to_explored_descendants():
    # the long branch explores x's subtree at depths 3..5 first; s then finds x at depth 2
    gate = asyncio.Event()
    graph = {"r": ["a", "s"], "a": ["b"], "b": ["x"], "s": ["x"], "x": ["y"], "y": ["z"]}
    remote = GraphRemote(graph, ["r"], gates={"s": gate})

    class OpenGateWhenZSaved(Stage):
        async def run(self):
            async for dc in self.items():
                await self.put(dc)
                if dc.content.name == "z":
                    gate.set()

    found = await explore(remote, OpenGateWhenZSaved())
    assert found.depths()[key("x")] == 2
    assert found.depths()[key("z")] == 4
    assert_matches(found, graph, ["r"])


async def test_children_are_put_while_siblings_are_still_pending():
    # a's discovery is held until c's child is saved: if a level were awaited as a block,
    # c's child could never be reached and this would time out.
    graph = {"r": ["a", "c"], "a": ["a1"], "c": ["c1"]}
    gate = asyncio.Event()
    remote = GraphRemote(graph, ["r"], gates={"a": gate})

    class OpenGateWhenC1Saved(Stage):
        async def run(self):
            async for dc in self.items():
                await self.put(dc)
                if dc.content.name == "c1":
                    gate.set()

    found = await explore(remote, OpenGateWhenC1Saved())
    assert found.saved.index(key("c1")) < found.saved.index(key("a1"))


async def test_discover_raising_fails_that_unit_and_the_rest_goes_on():
    graph = {"r": ["a", "b"], "a": ["a1"], "b": ["b1"]}
    events = EventBus()
    finished: list[UnitFinished] = []
    events.subscribe(lambda e: finished.append(e) if isinstance(e, UnitFinished) else None)
    remote = GraphRemote(graph, ["r"], fail_in=lambda name: name == "a")
    found = await explore(remote, events=events)
    assert key("b1") in found.depths()
    assert key("a1") not in found.depths()
    failed = [e for e in finished if e.status == "failed"]
    assert [e.key for e in failed] == [key("a")]
    assert "cannot list children of a" in failed[0].error


async def test_discover_raising_under_abort_stops_the_pipeline(no_leftover_tasks):
    graph = {"r": ["a", "b"], "a": ["a1"], "b": ["b1"]}
    remote = GraphRemote(graph, ["r"], fail_in=lambda name: name == "a", on_error="abort")
    with pytest.raises(RuntimeError, match="cannot list children of a"):
        await explore(remote)
    no_leftover_tasks()


async def test_units_dropped_downstream_are_failed_and_discovery_ends(no_leftover_tasks):
    graph = tree(3, 3)
    remote = GraphRemote(graph, ["t"])

    class DropLeavesOfT0(Stage):
        async def run(self):
            async for dc in self.items():
                if dc.content.name.startswith("t.0."):
                    continue
                await self.put(dc)

    await explore(remote, DropLeavesOfT0(), maxsize=2)
    dropped = [dc for dc in remote.made if dc.content.name.startswith("t.0.")]
    assert len(dropped) == 3
    for dc in dropped:
        assert isinstance(dc.future.exception(), UnitNotResolvedError)
        assert "dropped by stage DropLeavesOfT0" in str(dc.future.exception())
    assert not any(name.startswith("t.0.") for name in remote.explored)
    assert "t.1.0" in remote.explored
    no_leftover_tasks()


@pytest.mark.parametrize("maxsize", [1, 3, 1000])
async def test_batching_stage_never_deadlocks_discovery(maxsize):
    graph = tree(3, 4)

    class BigBatches(Stage):
        async def run(self):
            async for batch in self.batches(minsize=500):
                for dc in batch:
                    await self.put(dc)

    remote = GraphRemote(graph, ["t"])
    found = await explore(remote, BigBatches(), maxsize=maxsize)
    assert len(found.saved) == sum(3**d for d in range(5))
    assert_matches(found, graph, ["t"])
