"""A discovery graph as the columns the interactive view draws (JSON-ready).

Positions are computed here, in Python (`stagekit.graphs.layered_positions`: depth on one
axis, barycentre order on the other), with the deepest chain and Maven conflicts, so the
browser only draws. The same snapshot feeds the notebook widget and the offline HTML.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import networkx as nx

from stagekit.graphs import conflicts, critical_path, layered_positions
from stagekit.notebook.diff_view import CHANGE_COLOURS

__all__ = ["graph_snapshot"]


def graph_snapshot(graph: nx.DiGraph, *, total: int | None = None, running: bool = False,
                   sweeps: int = 2, changes: dict[str, str] | None = None) -> dict[str, Any]:
    """Columns of units (key, kind, status, depth, size, x) and edges (src, dst, rel).

    ``total`` is the number of units in the run when ``graph`` is filtered; ``running``
    tells the view the graph is still growing. Kinds, statuses and relations are sent once
    each and referred to by index. ``changes`` (``{key: added|removed|changed}``, see
    `stagekit.notebook.graph_diff`) adds ``diff``: the units per change, the colours, and
    the ghosts (units of the older run only, node attribute ``ghost``).
    """
    pos = layered_positions(graph, sweeps=sweeps)
    keys = list(graph.nodes)
    index = {key: i for i, key in enumerate(keys)}
    kinds: dict[str, int] = {}
    statuses: dict[str, int] = {}
    relations: dict[str, int] = {}
    kind, status, depth, size, x = [], [], [], [], []
    error_nodes, error_text = [], []
    for i, (node, data) in enumerate(graph.nodes(data=True)):
        k = str(data.get("kind", ""))
        kind.append(kinds.setdefault(k, len(kinds)))
        status.append(statuses.setdefault(str(data.get("status", "")), len(statuses)))
        depth.append(int(data.get("depth") or 0))
        size.append(int(data["size"]) if data.get("size") is not None else None)
        x.append(round(pos[node][0], 6))
        if data.get("error"):
            error_nodes.append(i)
            error_text.append(str(data["error"]))
    src, dst, rel = [], [], []
    for a, b, r in graph.edges(data="relation"):
        src.append(index[a])
        dst.append(index[b])
        rel.append(relations.setdefault(str(r or ""), len(relations)))
    clashes = conflicts(graph)
    snapshot = {
        "keys": [str(k) for k in keys], "kind": kind, "kinds": list(kinds),
        "status": status, "statuses": list(statuses), "depth": depth, "size": size, "x": x,
        "src": src, "dst": dst, "rel": rel, "relations": list(relations),
        "path": [index[n] for n in critical_path(graph)],
        "conflict_nodes": [index[n] for n in clashes],
        "conflict_ga": list(clashes.values()),
        "error_nodes": error_nodes, "error_text": error_text,
        "layer_sizes": {str(d): c for d, c in Counter(depth).items()},
        "max_size": max((s for s in size if s is not None), default=0),
        "total": total if total is not None else len(keys),
        "running": running,
    }
    if changes is not None:
        snapshot["diff"] = diff_columns(graph, index, changes)
    return snapshot


def diff_columns(graph: nx.DiGraph, index: dict[Any, int], changes: dict[str, str]
                 ) -> dict[str, Any]:
    """The ``diff`` entry of a snapshot: unit indices per change, ghosts, colours."""
    by_change: dict[str, list[int]] = {"added": [], "removed": [], "changed": []}
    for key, change in changes.items():
        i = index.get(key)
        if i is not None and change in by_change:
            by_change[change].append(i)
    return {**{c: sorted(v) for c, v in by_change.items()},
            "ghosts": sorted(index[n] for n, ghost in graph.nodes(data="ghost") if ghost),
            "colours": dict(CHANGE_COLOURS)}
