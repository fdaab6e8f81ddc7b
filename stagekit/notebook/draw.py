"""The discovery graph drawn layered by depth, and units per depth, as inline SVG.

Both functions take a `Run` (or anything with a ``graph``) or a networkx graph, draw with
matplotlib's object API (no pyplot, no global backend switch) and return an
`IPython.display.SVG`: the picture is saved in the notebook, nothing is loaded from a
CDN. Beyond ``max_nodes`` units, `draw_tree` draws one node per (depth, colour group)
with its count, and one edge per pair of groups with its weight.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable
from typing import Any

import matplotlib
import networkx as nx
from IPython.display import SVG
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

__all__ = ["MAX_NODES", "draw_tree", "layered_layout", "plot_depths", "tree_figure"]

MAX_NODES = 2000
# Above this many nodes or edges, they are embedded as one image in the SVG.
RASTER_ABOVE = 1000
_PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b",
            "#9d755d", "#ff9da6", "#bab0ac")
STATUS_COLOURS = {"discovered": "#bab0ac", "downloaded": "#54a24b", "shared": "#72b7b2",
                  "existing": "#4c78a8",
                  "deferred": "#eeca3b", "failed": "#e45756", "skipped": "#9d755d"}


def _graph(source: Any) -> nx.DiGraph:
    if isinstance(source, nx.Graph):
        return source
    graph = getattr(source, "graph", None)
    if isinstance(graph, nx.Graph):
        return graph
    raise TypeError(f"expected a Run or a networkx graph, got {type(source).__name__}")


def _colours(values: Iterable[Hashable], by: str) -> dict[Hashable, str]:
    ordered = sorted({str(v) for v in values})
    if by == "status":
        extra = [v for v in ordered if v not in STATUS_COLOURS]
        return {**STATUS_COLOURS, **{v: _PALETTE[i % len(_PALETTE)] for i, v in
                                     enumerate(extra)}}
    return {v: _PALETTE[i % len(_PALETTE)] for i, v in enumerate(ordered)}


def layered_layout(graph: nx.DiGraph, layer: str = "depth", *,
                   group: str | None = None) -> dict[Any, tuple[float, float]]:
    """Positions with y = -depth and x spread over [0, 1] per layer.

    Each layer is ordered by the mean x of the node's parents in shallower layers (the
    barycentre heuristic, one sweep down), which keeps children under their parents;
    with ``group`` (a node attribute), by that attribute first, so groups line up.
    """
    layers: dict[int, list[Any]] = defaultdict(list)
    for node, data in graph.nodes(data=True):
        layers[int(data.get(layer) or 0)].append(node)
    pos: dict[Any, tuple[float, float]] = {}
    for depth in sorted(layers):
        nodes = layers[depth]

        def order(node: Any, depth: int = depth) -> tuple[str, float, str, str]:
            data = graph.nodes[node]
            xs = [pos[p][0] for p in graph.predecessors(node) if p in pos and pos[p][1] > -depth]
            centre = sum(xs) / len(xs) if xs else 0.5
            first = str(data.get(group, "")) if group else ""
            return (first, centre, str(data.get("kind", "")), str(node))

        nodes.sort(key=order)
        n = len(nodes)
        for i, node in enumerate(nodes):
            pos[node] = ((i + 0.5) / n, -float(depth))
    return pos


def _aggregate(graph: nx.DiGraph, by: str) -> nx.DiGraph:
    """One node per (depth, ``by`` value) with ``count``; edges carry ``weight``."""
    groups: dict[Any, tuple[int, str]] = {}
    counts: Counter[tuple[int, str]] = Counter()
    for node, data in graph.nodes(data=True):
        group = (int(data.get("depth") or 0), str(data.get(by, "")))
        groups[node] = group
        counts[group] += 1
    summary = nx.DiGraph()
    for (depth, value), count in counts.items():
        summary.add_node((depth, value), depth=depth, **{by: value}, count=count)
    weights: Counter[tuple[Any, Any]] = Counter()
    for parent, child in graph.edges():
        weights[(groups[parent], groups[child])] += 1
    for (a, b), weight in weights.items():
        if a != b:
            summary.add_edge(a, b, weight=weight)
    return summary


def _group_size(count: int, top: int) -> float:
    """Marker area (points squared) of an aggregated group: grows with sqrt(count)."""
    return 60 + 900 * (count / top) ** 0.5


def _svg(fig: Figure) -> SVG:
    buffer = io.StringIO()
    # Text stays text (searchable, smaller); no date, so the same run gives the same file.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "stagekit"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return SVG(data=buffer.getvalue())


def draw_tree(source: Any, *, color_by: str = "kind", max_nodes: int = MAX_NODES,
              width: float = 10.0, title: str | None = None) -> SVG:
    """Draw the discovery graph layered by depth (roots on top), coloured by kind or status.

    ``source`` is a `Run` or a graph from `Run.graph`. Above ``max_nodes`` units the
    graph is aggregated per depth and colour group, each drawn with its count.
    """
    return _svg(tree_figure(source, color_by=color_by, max_nodes=max_nodes, width=width,
                            title=title))


def tree_figure(source: Any, *, color_by: str = "kind", max_nodes: int = MAX_NODES,
                width: float = 10.0, title: str | None = None) -> Figure:
    """The matplotlib `Figure` that `draw_tree` renders (to save as PNG, PDF...)."""
    if color_by not in ("kind", "status"):
        raise ValueError(f"color_by must be 'kind' or 'status', got {color_by!r}")
    graph = _graph(source)
    aggregated = graph.number_of_nodes() > max_nodes
    drawn = _aggregate(graph, color_by) if aggregated else graph
    pos = layered_layout(drawn, group=color_by if aggregated else None)
    n_layers = len({y for _x, y in pos.values()}) or 1
    fig = Figure(figsize=(width, min(2.0 + 1.1 * n_layers, 14.0)), dpi=110)
    ax = fig.add_subplot()
    ax.set_axis_off()
    values = [str(d.get(color_by, "")) for _n, d in drawn.nodes(data=True)]
    colours = _colours(values, color_by)
    if drawn.number_of_edges():
        segments = [(pos[a], pos[b]) for a, b in drawn.edges()]
        if aggregated:
            top = max(w for _a, _b, w in drawn.edges(data="weight"))
            widths = [0.5 + 4.0 * w / top for _a, _b, w in drawn.edges(data="weight")]
        else:
            widths = [0.4] * len(segments)
        lines = LineCollection(segments, colors="#999999", linewidths=widths, alpha=0.6,
                               zorder=1)
        lines.set_rasterized(len(segments) > RASTER_ABOVE)  # keeps big files small
        ax.add_collection(lines)
    by_value: dict[str, list[Any]] = defaultdict(list)
    for node, data in drawn.nodes(data=True):
        by_value[str(data.get(color_by, ""))].append(node)
    if aggregated:
        top = max(c for _n, c in drawn.nodes(data="count"))
    for value, nodes in sorted(by_value.items()):
        xs = [pos[n][0] for n in nodes]
        ys = [pos[n][1] for n in nodes]
        if aggregated:
            sizes = [_group_size(drawn.nodes[n]["count"], top) for n in nodes]
        else:
            sizes = max(4.0, min(60.0, 3000.0 / max(len(pos), 1)))
        points = ax.scatter(xs, ys, s=sizes, c=colours[value], label=value, zorder=2,
                            edgecolors="white", linewidths=0.3)
        points.set_rasterized(len(pos) > RASTER_ABOVE)
    if aggregated:
        for node, data in drawn.nodes(data=True):
            x, y = pos[node]
            ax.annotate(f"{data['count']:,}", (x, y), textcoords="offset points",
                        xytext=(_group_size(data["count"], top) ** 0.5 / 2 + 3, 0),
                        ha="left", va="center", fontsize=8)
    depths = sorted({-y for _x, y in pos.values()})
    for depth in depths:
        ax.text(-0.02, -depth, f"depth {depth:g}", ha="right", va="center", fontsize=8)
    ax.set_xlim(-0.12, 1.02)
    if depths:
        ax.set_ylim(-max(depths) - 0.5, 0.5)
    handles = [Line2D([], [], marker="o", linestyle="", color=colours[v], label=v)
               for v in sorted(by_value)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
              title=color_by, frameon=False)
    note = (f"{graph.number_of_nodes():,} units, {graph.number_of_edges():,} edges"
            + (f" (aggregated per depth and {color_by})" if aggregated else ""))
    ax.set_title(title or note, fontsize=10)
    return fig


def plot_depths(source: Any, *, width: float = 7.0, title: str | None = None) -> SVG:
    """Units per depth, stacked by kind, as a bar chart."""
    graph = _graph(source)
    table: dict[str, Counter[int]] = defaultdict(Counter)
    for _node, data in graph.nodes(data=True):
        table[str(data.get("kind", ""))][int(data.get("depth") or 0)] += 1
    depths = sorted({d for counts in table.values() for d in counts})
    fig = Figure(figsize=(width, 3.5))
    ax = fig.add_subplot()
    colours = _colours(table, "kind")
    bottom = [0] * len(depths)
    for kind in sorted(table):
        heights = [table[kind][d] for d in depths]
        ax.bar(depths, heights, bottom=bottom, color=colours[kind], label=kind)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_xlabel("depth")
    ax.set_ylabel("units")
    ax.set_xticks(depths)
    if table:
        ax.legend(fontsize=8, frameon=False)
    ax.set_title(title or f"{graph.number_of_nodes():,} units per depth by kind", fontsize=10)
    return _svg(fig)
