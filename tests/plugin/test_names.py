"""A plugin may name its attributes and content fields anything: the engine keeps its own."""

from __future__ import annotations

import asyncio
import copy
import pickle
from dataclasses import dataclass

import stagekit
from stagekit import Content, DeclarativeContent, Remote
from tests.graphs import bfs_depths, tree

TIMEOUT = 30
GRAPH = {**tree(3, 3), "t.0.0": ["t", "t.1"], "t.2.1": ["t.0"]}  # cycles and shortcuts


@dataclass(frozen=True)
class Plain(Content):
    kind = "test.node"
    name: str

    def natural_key(self) -> tuple[str]:
        return (self.name,)


@dataclass(frozen=True)
class Crowded(Content):
    """A unit whose fields are called like stagekit's own attributes of a unit."""

    kind = "test.node"
    name: str
    key: str = "mine"
    identity: str = "also mine"

    def natural_key(self) -> tuple[str]:
        return (self.name,)


class PlainCrawler(Remote):
    """Follows ``graph`` from ``start``."""

    def __init__(self, graph: dict[str, list[str]], start: str, **options) -> None:
        super().__init__(**options)
        self.graph, self.start = graph, start

    def unit(self, name: str) -> DeclarativeContent:
        return DeclarativeContent(Plain(name), relation="link")

    async def roots(self, ctx):
        yield self.unit(self.start)

    async def discover(self, ctx, unit, dc):
        for child in self.graph.get(unit.name, []):
            yield self.unit(child)


class CrowdedCrawler(Remote):
    """The same crawl, keeping its state under every name the round-1 engine used."""

    def __init__(self, graph: dict[str, list[str]], start: str, **options) -> None:
        super().__init__(**options)
        self.nodes: dict[str, list[str]] = graph
        self.edges: set[tuple[str, str]] = set()
        self.name = "my crawler"
        self.store = "not a Store"
        self.events: list[str] = []
        self.busy = True
        self._tasks: list[object] = []
        self._active = -5
        self._futures = "nope"
        self.downloader = None
        self.start = start

    def _link(self, parent: str, child: str) -> None:
        self.edges.add((parent, child))

    def _spawn(self, coro: object) -> None:
        raise AssertionError("the engine must never call a plugin's helpers")

    def unit(self, name: str) -> DeclarativeContent:
        return DeclarativeContent(Crowded(name), relation="link")

    async def roots(self, ctx):
        self.events.append("roots")
        yield self.unit(self.start)

    async def discover(self, ctx, unit, dc):
        assert unit.key == "mine" and unit.identity == "also mine"
        for child in self.nodes.get(unit.name, []):
            self._link(unit.name, child)
            yield self.unit(child)


async def explore(remote: Remote, tmp_path, name: str) -> stagekit.Run:
    async with asyncio.timeout(TIMEOUT):
        return await stagekit.explore(remote, store=tmp_path / name)


async def test_attribute_names_of_a_plugin_do_not_change_the_answer(tmp_path) -> None:
    plain = await explore(PlainCrawler(GRAPH, "t"), tmp_path, "plain")
    crowded = await explore(CrowdedCrawler(GRAPH, "t"), tmp_path, "crowded")
    depths, edges = bfs_depths(GRAPH, ["t"])
    assert plain.depths() == depths
    assert crowded.depths() == depths
    linked = {(p, c, "link") for p, c, _ in edges}
    assert plain.records.edge_set() == crowded.records.edge_set() == linked
    assert crowded.errors == [] and plain.errors == []
    for run in (plain, crowded):
        frame = run.to_dataframe()
        assert len(frame) == len(depths)  # every unit saved once
        assert set(frame["status"]) == {"downloaded"}


async def test_the_run_never_writes_to_the_remote(tmp_path) -> None:
    remote = CrowdedCrawler(GRAPH, "t", max_depth=2, on_error="abort")
    before = {name: copy.copy(value) for name, value in vars(remote).items()}
    run = await explore(remote, tmp_path, "s")
    after = dict(vars(remote))
    # Only what the plugin itself changes has changed.
    assert (before.pop("events"), after.pop("events")) == ([], ["roots"])
    assert before.pop("edges") == set() and ("t", "t.0") in after.pop("edges")
    assert after == before
    assert (remote.max_depth, remote.on_error) == (2, "abort")
    assert max(run.depths().values()) == 2


def test_a_remote_is_plain_configuration_that_pickles() -> None:
    remote = PlainCrawler(GRAPH, "t", max_depth=3)
    copy = pickle.loads(pickle.dumps(remote))
    assert (copy.graph, copy.start, copy.max_depth) == (GRAPH, "t", 3)


def test_stagekit_exports_every_error() -> None:
    import stagekit.errors

    assert set(stagekit.errors.__all__) <= set(stagekit.__all__)
    for name in stagekit.errors.__all__:
        assert getattr(stagekit, name) is getattr(stagekit.errors, name)
