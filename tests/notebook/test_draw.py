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


def markers(svg: str) -> list[ElementTree.Element]:
    """The node circles of a drawing (legend excluded)."""
    root = ElementTree.fromstring(svg)
    (nodes,) = [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "nodes"]
    return list(nodes.iter(f"{SVG_NS}circle"))


def titles(svg: str, group: str) -> list[str]:
    """The ``<title>`` of every element in the drawing's ``group`` (nodes, edges, labels)."""
    root = ElementTree.fromstring(svg)
    (found,) = [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == group]
    return [child.findtext(f"{SVG_NS}title") or child.text or "" for child in found]


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
    assert len(markers(svg)) == n


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
    drawing = draw_tree(graph, max_nodes=2000)
    svg = drawing.data
    assert drawing.aggregated and "aggregated per depth and kind" in svg
    groups = {(d["depth"], d["kind"]) for _n, d in graph.nodes(data=True)}
    assert len(markers(svg)) == len(groups)
    count = sum(1 for _n, d in graph.nodes(data=True) if d["depth"] == 2 and d["kind"] == "kind1")
    assert any(t.startswith(f"{count:,} units of kind1 at depth 2") for t in titles(svg, "nodes"))
    assert re.search(rf">{count:,} kind1<", svg)  # the label, where there is room
    assert len(svg) < 50_000


def test_every_node_and_edge_has_a_tooltip_and_labels_only_where_there_is_room():
    graph = layered_graph(40)
    svg = draw_tree(graph).data
    nodes = titles(svg, "nodes")
    assert len(nodes) == 40 and all(t.splitlines()[0] in graph for t in nodes)
    assert "status: failed" in nodes[0] and "depth: 0" in nodes[0]
    edges = titles(svg, "edges")
    assert len(edges) == graph.number_of_edges()
    assert all(" → " in t and t.endswith("(dep)") for t in edges)
    assert ">k0:39<" in svg  # 8 nodes a layer leave room for the short key
    crowded = draw_tree(layered_graph(480, depth=2), max_nodes=500).data
    assert len(titles(crowded, "nodes")) == 480
    assert len(titles(crowded, "labels")) < 10  # 240 to a layer: no room, tooltips only


def test_the_deepest_chain_is_highlighted_and_maven_conflicts_are_ringed():
    graph = nx.DiGraph()
    chain = ["maven.pom:g:root:1", "maven.pom:g:lib:1", "maven.pom:g:util:1"]
    for depth, key in enumerate(chain):
        graph.add_node(key, kind="maven.pom", depth=depth, status="downloaded")
    graph.add_node("maven.pom:g:util:2", kind="maven.pom", depth=1, status="downloaded")
    graph.add_edges_from([(chain[0], chain[1]), (chain[1], chain[2]),
                          (chain[0], "maven.pom:g:util:2")], relation="dependency")
    svg = draw_tree(graph).data
    red = re.findall(r'<line [^>]*stroke="#d62728"[^>]*><title>([^<]*)</title>', svg)
    assert sorted(red) == sorted([f"{chain[0]} → {chain[1]} (dependency)",
                                  f"{chain[1]} → {chain[2]} (dependency)"])
    ringed = [t.splitlines()[0] for t in titles(svg, "nodes") if "conflict: g:util" in t]
    assert sorted(ringed) == ["maven.pom:g:util:1", "maven.pom:g:util:2"]
    assert "deepest chain" in svg and "conflict (several versions)" in svg


def test_in_a_notebook_the_svg_is_inline_html_so_tooltips_show(tmp_path):
    drawing = draw_tree(layered_graph(30))
    bundle = drawing._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}  # no image/svg+xml: an <img> hides titles
    assert bundle["text/html"].count("<svg") == 1 and "<title>" in bundle["text/html"]
    assert bundle["text/plain"] == "<drawing of 30 units>"
    assert drawing.save(tmp_path / "t.svg").read_text(encoding="utf-8") == drawing.data


def test_filters_are_those_of_run_subgraph():
    graph = layered_graph(60, kinds=3, depth=4)
    svg = draw_tree(graph, kinds="kind1", depths=range(2)).data
    kept = [n for n, d in graph.nodes(data=True) if d["kind"] == "kind1" and d["depth"] < 2]
    assert sorted(t.splitlines()[0] for t in titles(svg, "nodes")) == sorted(kept)


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
