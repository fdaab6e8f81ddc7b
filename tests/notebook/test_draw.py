"""draw_tree and plot_depths: SVG made offline, layered by depth, aggregated past the limit."""

from __future__ import annotations

import asyncio
import re
from xml.etree import ElementTree

import networkx as nx
import pytest

import stagekit
from stagekit.notebook import draw_tree, layered_layout, plot_depths
from stagekit.notebook.draw import STATUS_COLOURS
from stagekit.testing import serve
from tests.notebook.remotes import LinkedPages, make_linked_repo

SVG_NS = "{http://www.w3.org/2000/svg}"


def layered_graph(n: int, kinds: int = 3, depth: int = 5) -> nx.DiGraph:
    """``n`` nodes over ``depth + 1`` layers, each below a parent one layer up."""
    graph = nx.DiGraph()
    layers: list[list[str]] = [[] for _ in range(depth + 1)]
    for i in range(n):
        d = 0 if i < kinds else 1 + i % depth
        key = f"k{i % kinds}:{i}"
        graph.add_node(key, kind=f"kind{i % kinds}", depth=d,
                       status="failed" if i % 7 == 0 else "downloaded")
        layers[d].append(key)
    for d in range(1, depth + 1):
        for j, key in enumerate(layers[d]):
            graph.add_edge(layers[d - 1][j % len(layers[d - 1])], key, relation="dep")
    return graph


def markers(svg: str) -> int:
    """How many node markers the SVG draws as vectors (legend excluded)."""
    root = ElementTree.fromstring(svg)
    count = 0
    for group in root.iter(f"{SVG_NS}g"):
        if group.get("id", "").startswith("PathCollection"):
            count += sum(1 for _ in group.iter(f"{SVG_NS}use"))
            count += sum(1 for child in group if child.tag == f"{SVG_NS}path")
    return count


async def test_draw_tree_of_a_run_draws_every_unit_and_names_every_depth(tmp_path):
    repo = make_linked_repo(layers=4, width=3, seed=21)
    async with serve(repo) as server, asyncio.timeout(60):
        run = await stagekit.explore(LinkedPages(server.url), store=tmp_path / "s")
    svg = draw_tree(run).data
    assert svg.lstrip().startswith("<svg")
    assert not re.search(r'(href|src)="(https?:)?//', svg)  # nothing loaded from outside
    n = run.graph.number_of_nodes()
    assert f"{n:,} units" in svg
    for depth in run.stats["depths"]:
        assert f"depth {depth}" in svg
    assert "demo.pom" in svg and "demo.jar" in svg  # the legend, as text
    assert markers(svg) == n


def test_colour_by_status_uses_the_status_colours():
    graph = layered_graph(40)
    svg = draw_tree(graph, color_by="status").data
    assert STATUS_COLOURS["failed"] in svg and STATUS_COLOURS["downloaded"] in svg
    assert STATUS_COLOURS["deferred"] not in svg
    with pytest.raises(ValueError, match="color_by"):
        draw_tree(graph, color_by="size")
    with pytest.raises(TypeError, match="Run or a networkx graph"):
        draw_tree([1, 2])


def test_beyond_the_limit_one_node_per_depth_and_kind_with_its_count():
    graph = layered_graph(3000, kinds=3, depth=5)
    svg = draw_tree(graph, max_nodes=2000).data
    assert "aggregated per depth and kind" in svg
    groups = {(d["depth"], d["kind"]) for _n, d in graph.nodes(data=True)}
    assert markers(svg) == len(groups)
    count = sum(1 for _n, d in graph.nodes(data=True) if d["depth"] == 2 and d["kind"] == "kind1")
    assert re.search(rf">{count:,}<", svg)
    assert len(svg) < 200_000


def test_a_few_thousand_nodes_stay_drawable_and_small_enough_to_save():
    graph = layered_graph(2000)
    svg = draw_tree(graph).data  # at the limit: drawn node by node
    assert "aggregated" not in svg and "2,000 units" in svg
    assert "data:image/png;base64" in svg  # that many markers go in as one image
    assert len(svg) < 1_500_000


def test_layout_puts_each_layer_on_its_row_and_children_near_their_parents():
    graph = nx.DiGraph()
    graph.add_node("r", depth=0)
    for parent in ("a", "b"):
        graph.add_node(parent, depth=1)
        graph.add_edge("r", parent)
        for i in range(3):
            graph.add_node(f"{parent}{i}", depth=2)
            graph.add_edge(parent, f"{parent}{i}")
    pos = layered_layout(graph)
    assert all(pos[n][1] == -d for n, d in graph.nodes(data="depth"))
    left, right = sorted(("a", "b"), key=lambda n: pos[n][0])
    assert max(pos[f"{left}{i}"][0] for i in range(3)) < min(pos[f"{right}{i}"][0]
                                                           for i in range(3))
    assert all(0 < x < 1 for x, _y in pos.values())


def test_plot_depths_stacks_units_per_depth_by_kind():
    graph = layered_graph(100, kinds=2, depth=4)
    svg = plot_depths(graph).data
    assert "100 units per depth by kind" in svg
    assert "kind0" in svg and "kind1" in svg
    bars = re.findall(r'<g id="patch_\d+">', svg)
    assert len(bars) >= 2 * 5  # a bar per kind and depth, plus the background
