"""Round 1's `Discovery` keeps working for one release, with one deprecation warning."""

from __future__ import annotations

import asyncio
import warnings

import stagekit
import stagekit.discovery
from tests.graphs import GraphNode, bfs_depths, tree

GRAPH = tree(2, 3)


def old_style_remote() -> type:
    """A plugin written against round 1's API, as its README showed it."""

    class OldStyle(stagekit.discovery.Discovery):
        def __init__(self, graph, start, **kwargs):
            super().__init__(**kwargs)
            self.graph, self.start = graph, start
            self.seen_store: object = None

        async def roots(self):
            self.seen_store = self.store
            yield stagekit.DeclarativeContent(GraphNode(self.start))

        async def discover(self, unit, dc):
            for child in self.graph.get(unit.name, []):
                yield stagekit.DeclarativeContent(GraphNode(child))
            if unit.name == "t.1":
                self.report_failure("test.node:bad", "test.node", ValueError("bad listing"))

    return OldStyle


async def test_an_old_style_remote_runs_and_warns_once(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(stagekit.discovery, "_warned", False)
    remote_class = old_style_remote()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = remote_class(GRAPH, "t")
        second = remote_class(GRAPH, "t", max_depth=1)
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(deprecations) == 1 and "stagekit.Remote" in str(deprecations[0].message)
    async with asyncio.timeout(30):
        run = await stagekit.explore(first, store=tmp_path / "a")
        shallow = await stagekit.explore(second, store=tmp_path / "b")
    depths, _ = bfs_depths(GRAPH, ["t"])
    assert {k: d for k, d in run.depths().items() if k != "test.node:bad"} == depths
    assert run.errors == [("test.node:bad", "bad listing")]
    assert isinstance(first.seen_store, stagekit.Store)
    assert max(shallow.depths().values()) == 1
