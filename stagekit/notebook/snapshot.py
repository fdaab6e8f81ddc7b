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
from stagekit.notebook.tree_svg import short_label

__all__ = ["graph_snapshot"]


def graph_snapshot(graph: nx.DiGraph, *, total: int | None = None, running: bool = False,
                   sweeps: int = 2) -> dict[str, Any]:
    """Columns of units (key, label, kind, status, depth, size, x) and edges (src, dst, rel).

    ``total`` is the number of units in the run when ``graph`` is filtered; ``running``
    tells the view the graph is still growing. Kinds, statuses and relations are sent once
    each and referred to by index.
    """
    pos = layered_positions(graph, sweeps=sweeps)
    keys = list(graph.nodes)
    index = {key: i for i, key in enumerate(keys)}
    kinds: dict[str, int] = {}
    statuses: dict[str, int] = {}
    relations: dict[str, int] = {}
    kind, status, depth, size, x, labels = [], [], [], [], [], []
    error_nodes, error_text = [], []
    for i, (node, data) in enumerate(graph.nodes(data=True)):
        k = str(data.get("kind", ""))
        kind.append(kinds.setdefault(k, len(kinds)))
        status.append(statuses.setdefault(str(data.get("status", "")), len(statuses)))
        depth.append(int(data.get("depth") or 0))
        size.append(int(data["size"]) if data.get("size") is not None else None)
        x.append(round(pos[node][0], 6))
        labels.append(short_label(node, k))
        if data.get("error"):
            error_nodes.append(i)
            error_text.append(str(data["error"]))
    src, dst, rel = [], [], []
    for a, b, r in graph.edges(data="relation"):
        src.append(index[a])
        dst.append(index[b])
        rel.append(relations.setdefault(str(r or ""), len(relations)))
    clashes = conflicts(graph)
    return {
        "keys": [str(k) for k in keys], "labels": labels, "kind": kind, "kinds": list(kinds),
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
