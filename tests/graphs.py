"""In-memory content for testing the pipeline core: nodes of a graph given as a dict."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from stagekit import Remote
from stagekit.models import Content, DeclarativeContent


@dataclass(frozen=True)
class GraphNode(Content):
    """A unit of an in-memory graph, keyed by its name."""

    kind = "test.node"
    name: str

    def natural_key(self) -> tuple[str]:
        return (self.name,)


def key(name: str) -> str:
    return f"test.node:{name}"


class GraphRemote(Remote):
    """A remote over ``graph`` (name -> child names); records every DeclarativeContent made."""

    def __init__(
        self,
        graph: dict[str, list[str]],
        roots: list[str],
        *,
        flat: bool = False,
        gates: dict[str, asyncio.Event] | None = None,
        fail_in: Callable[[str], bool] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.graph = graph
        self.root_names = roots
        self.flat = flat
        self.gates = gates or {}
        self.fail_in = fail_in
        self.made: list[DeclarativeContent] = []
        self.explored: list[str] = []

    def _make(self, name: str) -> DeclarativeContent:
        dc = DeclarativeContent(GraphNode(name))
        self.made.append(dc)
        return dc

    async def roots(self, ctx) -> AsyncIterator[DeclarativeContent]:
        for name in self.root_names:
            yield self._make(name)

    async def discover(self, ctx, unit: Content, dc: DeclarativeContent):
        assert isinstance(unit, GraphNode)
        self.explored.append(unit.name)
        gate = self.gates.get(unit.name)
        if gate is not None:
            await gate.wait()
        if self.fail_in is not None and self.fail_in(unit.name):
            raise RuntimeError(f"cannot list children of {unit.name}")
        for child in self.graph.get(unit.name, []):
            yield self._make(child)

    def has_children(self, dc: DeclarativeContent) -> bool:
        return not self.flat


def bfs_depths(graph: dict[str, list[str]], roots: list[str], max_depth: int | None = None):
    """Shortest depths and edges reachable from ``roots``, as discovery must find them."""
    depths = {r: 0 for r in roots}
    edges = set()
    queue = deque(roots)
    while queue:
        name = queue.popleft()
        if max_depth is not None and depths[name] >= max_depth:
            continue
        for child in graph.get(name, []):
            edges.add((key(name), key(child), None))
            if child not in depths:
                depths[child] = depths[name] + 1
                queue.append(child)
    return {key(n): d for n, d in depths.items()}, edges


def chain(n: int) -> dict[str, list[str]]:
    return {f"n{i}": [f"n{i + 1}"] for i in range(n - 1)}


def tree(fanout: int, depth: int) -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {}
    level = ["t"]
    for _ in range(depth):
        nxt = []
        for name in level:
            graph[name] = [f"{name}.{i}" for i in range(fanout)]
            nxt.extend(graph[name])
        level = nxt
    return graph
