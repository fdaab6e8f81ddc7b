"""The discovery graph layered by depth as labelled SVG, and units per depth as a chart.

`draw_tree` takes a `Run` (or anything with a ``graph``) or a networkx graph and returns a
`TreeDrawing`: in a notebook it shows as HTML holding the ``<svg>`` inline (JupyterLab
shows an ``image/svg+xml`` output as an ``<img>``, where a browser never shows
``<title>`` tooltips); ``.data`` is the SVG text and ``.save(path)`` writes it. Beyond
``max_nodes`` units it draws one node per depth x kind with its count. Nothing is loaded
from a CDN. `plot_depths` needs matplotlib (``pip install 'stagekit[draw]'``).
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from stagekit.extras import require_extra
from stagekit.graphs import GraphFilter, aggregate, layered_positions, subgraph
from stagekit.notebook.tree_svg import STATUS_COLOURS, colours_for, tree_svg

if TYPE_CHECKING:
    from IPython.display import SVG
    from matplotlib.figure import Figure

__all__ = ["MAX_NODES", "STATUS_COLOURS", "TreeDrawing", "draw_tree", "layered_layout",
           "plot_depths"]

MAX_NODES = 500  # past this many units a drawing of each one stops being readable


def _matplotlib() -> Any:
    require_extra("draw")
    import matplotlib
    import matplotlib.figure

    return matplotlib


def _graph(source: Any) -> nx.DiGraph:
    if isinstance(source, nx.Graph):
        return source
    graph = getattr(source, "graph", None)
    if isinstance(graph, nx.Graph):
        return graph
    raise TypeError(f"expected a Run or a networkx graph, got {type(source).__name__}")


def layered_layout(graph: nx.DiGraph, layer: str = "depth", *,
                   group: str | None = None) -> dict[Any, tuple[float, float]]:
    """Positions with y = -depth and x spread over [0, 1] per layer, crossings reduced.

    See `stagekit.graphs.layered_positions` (barycentre ordering, down and up sweeps).
    """
    if layer != "depth":
        graph = graph.copy()
        for _node, data in graph.nodes(data=True):
            data["depth"] = data.get(layer)
    pos = layered_positions(graph, group=group)
    return {n: (x, -y) for n, (x, y) in pos.items()}


class TreeDrawing:
    """An SVG drawing of a discovery graph, shown inline in notebooks (tooltips work)."""

    def __init__(self, svg: str, *, units: int, aggregated: bool) -> None:
        self.data = svg
        self.units = units
        self.aggregated = aggregated

    def _repr_html_(self) -> str:
        return f"<div class='stagekit-tree' style='overflow:auto'>{self.data}</div>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        what = "aggregated drawing" if self.aggregated else "drawing"
        return {"text/html": self._repr_html_(),
                "text/plain": f"<{what} of {self.units:,} units>"}

    def save(self, path: str | Path) -> Path:
        """Write the SVG to ``path`` (UTF-8) and return the path."""
        path = Path(path)
        path.write_text(self.data, encoding="utf-8")
        return path


def draw_tree(source: Any, *, color_by: str = "kind", max_nodes: int = MAX_NODES,
              width: float = 960.0, title: str | None = None,
              colours: dict[str, str] | None = None, **filters: Any) -> TreeDrawing:
    """Draw the discovery graph layered by depth (roots on top), coloured by kind or status.

    ``source`` is a `Run` or a graph from `Run.graph`; ``filters`` (``kinds``,
    ``statuses``, ``depths``, ``key``) keep some units, as `Run.subgraph` does. Above
    ``max_nodes`` units the graph is drawn as one node per depth x kind with its count.
    Every node and edge has a tooltip; labels are drawn where there is room. ``colours``
    fixes the colour of some values of ``color_by``.
    """
    from stagekit.notebook.tree_svg import TreeStyle

    if color_by not in ("kind", "status"):
        raise ValueError(f"color_by must be 'kind' or 'status', got {color_by!r}")
    graph = _graph(source)
    if GraphFilter(**filters):
        graph = subgraph(graph, **filters)
    aggregated = graph.number_of_nodes() > max_nodes
    drawn = aggregate(graph) if aggregated else graph
    note = (f"{graph.number_of_nodes():,} units, {graph.number_of_edges():,} edges"
            + (" (aggregated per depth and kind)" if aggregated else ""))
    svg = tree_svg(drawn, color_by=color_by, title=title or note,
                   style=TreeStyle(width=width), colours=colours)
    return TreeDrawing(svg, units=graph.number_of_nodes(), aggregated=aggregated)


def _svg(fig: Figure) -> SVG:
    from IPython.display import SVG

    matplotlib = _matplotlib()
    buffer = io.StringIO()
    # Text stays text (searchable, smaller); no date, so the same run gives the same file.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "stagekit"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return SVG(data=buffer.getvalue())


def plot_depths(source: Any, *, width: float = 7.0, title: str | None = None) -> SVG:
    """Units per depth, stacked by kind, as a bar chart."""
    graph = _graph(source)
    table: dict[str, Counter[int]] = defaultdict(Counter)
    for _node, data in graph.nodes(data=True):
        table[str(data.get("kind", ""))][int(data.get("depth") or 0)] += 1
    depths = sorted({d for counts in table.values() for d in counts})
    fig = _matplotlib().figure.Figure(figsize=(width, 3.5))
    ax = fig.add_subplot()
    colours = colours_for(set(table), "kind")
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
