"""stagekit.graphs: the filters shared by Run.subgraph and the views, groups, chains, layers."""

from __future__ import annotations

import asyncio
import re

import networkx as nx
import pytest

import stagekit
from stagekit.graphs import (
    GraphFilter,
    aggregate,
    conflicts,
    critical_path,
    group_key,
    layered_positions,
    subgraph,
)
from stagekit.testing import serve
from tests.notebook.remotes import LinkedPages, make_linked_repo


def small() -> nx.DiGraph:
    graph = nx.DiGraph()
    units = [("maven.pom:g:a:1", "maven.pom", 0, "downloaded", 10),
             ("maven.pom:g:b:1", "maven.pom", 1, "downloaded", 20),
             ("maven.pom:g:b:2", "maven.pom", 2, "failed", None),
             ("maven.jar:g:b:1", "maven.jar", 2, "deferred", 300),
             ("maven.pom:g:c:1", "maven.pom", 3, "downloaded", 5)]
    for key, kind, depth, status, size in units:
        graph.add_node(key, kind=kind, depth=depth, status=status,
                       **({"size": size} if size is not None else {}))
    graph.add_edge("maven.pom:g:a:1", "maven.pom:g:b:1", relation="dependency")
    graph.add_edge("maven.pom:g:b:1", "maven.pom:g:b:2", relation="parent")
    graph.add_edge("maven.pom:g:b:1", "maven.jar:g:b:1", relation="artifact")
    graph.add_edge("maven.pom:g:b:2", "maven.pom:g:c:1", relation="dependency")
    graph.add_edge("maven.pom:g:c:1", "maven.pom:g:a:1", relation="dependency")  # a cycle
    return graph


def test_each_filter_keeps_what_it_names_and_they_combine():
    graph = small()
    assert sorted(subgraph(graph, kinds="maven.jar")) == ["maven.jar:g:b:1"]
    assert sorted(subgraph(graph, statuses=["failed", "deferred"])) == [
        "maven.jar:g:b:1", "maven.pom:g:b:2"]
    assert sorted(subgraph(graph, depths=range(1, 3), kinds="maven.pom")) == [
        "maven.pom:g:b:1", "maven.pom:g:b:2"]
    assert sorted(subgraph(graph, key="maven.pom:g:b:*")) == ["maven.pom:g:b:1", "maven.pom:g:b:2"]
    assert sorted(subgraph(graph, key=re.compile(r":2$"))) == ["maven.pom:g:b:2"]
    kept = subgraph(graph, depths=[0, 1])
    assert list(kept.edges(data="relation")) == [
        ("maven.pom:g:a:1", "maven.pom:g:b:1", "dependency")]
    kept.add_node("extra")
    assert "extra" not in graph  # a copy, not a view
    assert not GraphFilter() and GraphFilter(depths=0)


def test_a_wrong_filter_names_itself():
    with pytest.raises(ValueError, match="kinds is empty"):
        GraphFilter(kinds=[])
    with pytest.raises(TypeError, match="key must be a glob"):
        GraphFilter(key=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unexpected keyword"):
        subgraph(small(), kind="maven.pom")


def test_aggregate_counts_units_bytes_and_failures_per_depth_and_kind():
    groups = aggregate(small())
    b2 = groups.nodes[group_key(2, "maven.pom")]
    assert (b2["count"], b2["size"], b2["failed"], b2["status"]) == (1, 0, 1, "failed")
    jar = groups.nodes[group_key(2, "maven.jar")]
    assert (jar["count"], jar["size"], jar["failed"]) == (1, 300, 0)
    assert groups.number_of_nodes() == 5
    assert groups.edges[group_key(1, "maven.pom"), group_key(2, "maven.jar")]["weight"] == 1
    assert sum(d["count"] for _n, d in groups.nodes(data=True)) == 5


def test_critical_path_is_the_chain_to_the_deepest_unit_and_conflicts_are_found():
    graph = small()
    assert critical_path(graph) == ["maven.pom:g:a:1", "maven.pom:g:b:1", "maven.pom:g:b:2",
                                    "maven.pom:g:c:1"]
    assert critical_path(nx.DiGraph()) == []
    assert conflicts(graph) == {"maven.pom:g:b:1": "g:b", "maven.pom:g:b:2": "g:b"}


def test_barycentre_order_removes_the_crossings_of_a_shuffled_tree():
    graph = nx.DiGraph()
    for i in range(4):
        graph.add_node(f"p{i}", depth=0)
        for j in range(3):
            # Child names sort against their parents' order: a naive layout crosses.
            graph.add_node(f"c{(3 - i)}{j}", depth=1)
            graph.add_edge(f"p{i}", f"c{(3 - i)}{j}")
    pos = layered_positions(graph)
    crossings = sum(
        1 for a, b in graph.edges for c, d in graph.edges
        if (pos[a][0] - pos[c][0]) * (pos[b][0] - pos[d][0]) < 0)
    assert crossings == 0
    assert {y for _x, y in pos.values()} == {0.0, 1.0}


async def test_run_subgraph_filters_the_runs_graph(tmp_path):
    repo = make_linked_repo(layers=4, width=3, seed=5)
    async with serve(repo) as server, asyncio.timeout(60):
        run = await stagekit.explore(LinkedPages(server.url), store=tmp_path / "s")
    jars = run.subgraph(kinds="demo.jar")
    frame = run.to_dataframe()
    assert sorted(jars) == sorted(frame.loc[frame["kind"] == "demo.jar", "key"])
    assert jars.number_of_edges() == 0
    deep = run.subgraph(depths=range(2, 10), key="demo.pom:*")
    assert all(d["depth"] >= 2 and d["kind"] == "demo.pom" for _n, d in deep.nodes(data=True))
    assert deep.number_of_nodes() == ((frame["depth"] >= 2) & (frame["kind"] == "demo.pom")).sum()
