"""The discovery graph as a plain SVG document: layered by depth, labelled, with tooltips.

Written by hand (no matplotlib): every node and edge is its own element with a
``<title>`` (what a browser shows on hover), labels are drawn only where the layer leaves
room for them, the deepest chain is highlighted and Maven conflicts are ringed. Nothing
is loaded from outside the document.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from html import escape
from itertools import pairwise
from typing import Any

import networkx as nx

from stagekit.graphs import conflicts, critical_path, layered_positions

__all__ = ["PALETTE", "STATUS_COLOURS", "TreeStyle", "colours_for", "tree_svg"]

PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b",
           "#9d755d", "#ff9da6", "#bab0ac")
STATUS_COLOURS = {"discovered": "#bab0ac", "downloaded": "#54a24b", "shared": "#72b7b2",
                  "existing": "#4c78a8",
                  "deferred": "#eeca3b", "failed": "#e45756", "skipped": "#9d755d",
                  "grouped": "#72b7b2"}
PATH_COLOUR = "#d62728"
CONFLICT_COLOUR = "#9467bd"
CHAR_WIDTH = 6.0  # px per character at the 10 px label font: decides where labels fit


@dataclass(frozen=True, slots=True)
class TreeStyle:
    """Sizes of the drawing in pixels."""

    width: float = 960.0
    layer_height: float = 80.0
    left: float = 110.0  # room for "depth N" and its count
    right: float = 190.0  # room for the legend
    top: float = 48.0


def colours_for(values: set[str], by: str) -> dict[str, str]:
    """A colour per value: fixed ones for statuses, the palette in sorted order otherwise."""
    ordered = sorted(values)
    if by == "status":
        extra = [v for v in ordered if v not in STATUS_COLOURS]
        return {**STATUS_COLOURS, **{v: PALETTE[i % len(PALETTE)] for i, v in enumerate(extra)}}
    return {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(ordered)}


def short_label(node: Hashable, kind: str) -> str:
    """The key without its kind prefix, shortened from the left (the end tells most)."""
    text = str(node)
    if kind and text.startswith(kind + ":"):
        text = text[len(kind) + 1:]
    return text if len(text) <= 28 else "…" + text[-27:]


def node_title(node: Hashable, data: dict[str, Any], conflict: str | None) -> str:
    """What hovering a unit shows: key, kind, depth, status, size, error, conflict."""
    if "count" in data:
        lines = [f"{data['count']:,} units of {data.get('kind', '')} at depth {data.get('depth')}",
                 f"{data.get('size', 0):,} bytes, {data.get('failed', 0):,} failed"]
        return "\n".join(lines)
    lines = [str(node), f"kind: {data.get('kind', '')}", f"depth: {data.get('depth')}",
             f"status: {data.get('status', '')}"]
    if data.get("size") is not None:
        lines.append(f"size: {int(data['size']):,} bytes")
    if data.get("error"):
        lines.append(f"error: {data['error']}")
    if conflict:
        lines.append(f"conflict: {conflict} found at several versions")
    return "\n".join(lines)


def tree_svg(drawn: nx.DiGraph, *, color_by: str, title: str,
             style: TreeStyle | None = None, colours: Mapping[str, str] | None = None) -> str:
    """``drawn`` (units, or `stagekit.graphs.aggregate` groups with ``count``) as SVG text.

    ``colours`` gives fixed colours to some values of ``color_by`` (e.g. diff changes).
    """
    style = style or TreeStyle()
    pos = layered_positions(drawn)
    depths = sorted({int(y) for _x, y in pos.values()})
    row = {d: i for i, d in enumerate(depths)}
    inner = style.width - style.left - style.right
    height = style.top + style.layer_height * max(len(depths), 1) + 10
    per_layer = Counter(int(y) for _x, y in pos.values())
    units_at: Counter[int] = Counter()
    for node, data in drawn.nodes(data=True):
        units_at[int(pos[node][1])] += int(data.get("count", 1))

    def xy(node: Hashable) -> tuple[float, float]:
        x, y = pos[node]
        return style.left + x * inner, style.top + style.layer_height * (row[int(y)] + 0.5)

    aggregated = any("count" in d for _n, d in drawn.nodes(data=True))
    top_count = max((d.get("count", 1) for _n, d in drawn.nodes(data=True)), default=1)
    top_weight = max((w or 1 for _a, _b, w in drawn.edges(data="weight")), default=1)
    path = critical_path(drawn)
    path_edges = set(pairwise(path))
    clashes = conflicts(drawn)
    present = {str(d.get(color_by, "")) for _n, d in drawn.nodes(data=True)}
    # Drawn in a fixed order, so the same graph gives the same file whatever order it grew in.
    nodes = sorted(drawn.nodes(data=True), key=lambda nd: (pos[nd[0]][1], pos[nd[0]][0]))
    edges = sorted(drawn.edges(data=True), key=lambda e: (str(e[0]), str(e[1])))
    colours = {**colours_for(present, color_by), **(colours or {})}

    def radius(node: Hashable) -> float:
        data = drawn.nodes[node]
        if "count" in data:
            return 5.0 + 17.0 * (data["count"] / top_count) ** 0.5
        spacing = inner / per_layer[int(pos[node][1])]
        return max(1.5, min(6.0, spacing / 2.5))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{style.width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {style.width:.0f} {height:.0f}" '
        'font-family="sans-serif" class="stagekit-tree">',
        f"<title>{escape(title)}</title>",
        f'<text x="{style.width / 2:.0f}" y="18" text-anchor="middle" font-size="13">'
        f"{escape(title)}</text>",
    ]
    for depth in depths:
        y = style.top + style.layer_height * (row[depth] + 0.5)
        out.append(f'<text x="8" y="{y:.1f}" font-size="11" dominant-baseline="middle">'
                   f"depth {depth} <tspan fill='#777'>({units_at[depth]:,})</tspan></text>")
    out.append('<g class="edges" fill="none">')
    for a, b, data in edges:
        (x1, y1), (x2, y2) = xy(a), xy(b)
        on_path = (a, b) in path_edges
        if aggregated:
            stroke = 0.8 + 6.0 * (data.get("weight") or 1) / top_weight
        else:
            stroke = 2.2 if on_path else 0.6
        colour = PATH_COLOUR if on_path else "#999"
        relation = data.get("relation") or ""
        tip = f"{a} → {b}" + (f" ({relation})" if relation else "")
        out.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                   f'stroke="{colour}" stroke-width="{stroke:.1f}" '
                   f'stroke-opacity="{0.9 if on_path else 0.5}"><title>{escape(tip)}</title>'
                   "</line>")
    out.append("</g>")
    out.append('<g class="nodes">')
    for node, data in nodes:
        x, y = xy(node)
        r = radius(node)
        clash = clashes.get(node)
        ring = (f' stroke="{CONFLICT_COLOUR}" stroke-width="2.5"' if clash else
                f' stroke="{PATH_COLOUR}" stroke-width="2"' if node in path else
                ' stroke="#fff" stroke-width="0.5"')
        fill = colours[str(data.get(color_by, ""))]
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}"{ring} '
                   f'data-key="{escape(str(node))}"><title>'
                   f"{escape(node_title(node, data, clash))}</title></circle>")
    out.append("</g>")
    out.append('<g class="labels" font-size="10" fill="#333">')
    for node, data in nodes:
        x, y = xy(node)
        spacing = inner / per_layer[int(pos[node][1])]
        if "count" in data:
            text = f"{data['count']:,} {data.get('kind', '')}"
        else:
            text = short_label(node, str(data.get("kind", "")))
        if len(text) * CHAR_WIDTH > spacing - 4:
            if "count" not in data:
                continue  # no room: the tooltip still names it
            text = f"{data['count']:,}"
        out.append(f'<text x="{x:.1f}" y="{y + radius(node) + 11:.1f}" '
                   f'text-anchor="middle">{escape(text)}</text>')
    out.append("</g>")
    legend = {v: colours[v] for v in sorted(present)}
    out.append(_legend(legend, color_by, style, len(path) > 1, bool(clashes)))
    out.append("</svg>")
    return "\n".join(out)


def _legend(colours: dict[str, str], by: str, style: TreeStyle, path: bool,
            clashes: bool) -> str:
    x = style.width - style.right + 16
    items = [f'<g class="legend" font-size="10"><text x="{x}" y="{style.top}" '
             f'font-weight="bold">{escape(by)}</text>']
    y = style.top + 14
    for value in list(colours)[:20]:
        items.append(f'<circle cx="{x + 5}" cy="{y - 3}" r="4.5" fill="{colours[value]}"/>'
                     f'<text x="{x + 14}" y="{y}">{escape(value)}</text>')
        y += 14
    if path:
        items.append(f'<line x1="{x}" y1="{y - 3}" x2="{x + 10}" y2="{y - 3}" '
                     f'stroke="{PATH_COLOUR}" stroke-width="2.2"/>'
                     f'<text x="{x + 14}" y="{y}">deepest chain</text>')
        y += 14
    if clashes:
        items.append(f'<circle cx="{x + 5}" cy="{y - 3}" r="4.5" fill="none" '
                     f'stroke="{CONFLICT_COLOUR}" stroke-width="2.5"/>'
                     f'<text x="{x + 14}" y="{y}">conflict (several versions)</text>')
    items.append("</g>")
    return "".join(items)
