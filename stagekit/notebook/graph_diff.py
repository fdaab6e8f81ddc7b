"""What changed between two runs, laid on the interactive graph.

`diff_overlay` takes the new run's graph and the `stagekit.diff` of the two runs and
returns that graph with the removed units added back as *ghosts* (node attribute
``ghost``; at their old depth, linked by their old edges to the units still there), and
the change of every unit that differs. The view colours added, changed and removed units
(`CHANGE_COLOURS`, the same as `draw_diff` and the diff table) and draws ghosts faded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import networkx as nx

from stagekit.notebook.diff_view import CHANGE_COLOURS

if TYPE_CHECKING:
    import pandas as pd
__all__ = ["CHANGE_COLOURS", "diff_frame", "diff_overlay", "with_diff"]


def _is_frame(value: Any) -> bool:
    return hasattr(value, "columns") and hasattr(value, "itertuples")


def diff_frame(old: Any, new: Any) -> pd.DataFrame:
    """The diff to draw: ``old`` is a `Run` (diffed against ``new``, a `Run`) or already the
    DataFrame of `stagekit.diff` ending with ``new``."""
    if _is_frame(old):
        return old
    if not (hasattr(old, "records") and hasattr(old, "store")):
        raise TypeError(f"diff must be the older stagekit.Run or the DataFrame of "
                        f"stagekit.diff(old, new), got {type(old).__name__}")
    if not (hasattr(new, "records") and hasattr(new, "store")):
        raise TypeError("diff=<older Run> needs a Run to compare it with, not a "
                        f"{type(new).__name__}: pass the DataFrame of stagekit.diff instead")
    from stagekit.diff import diff

    return diff(old, new)


def diff_overlay(graph: nx.DiGraph, frame: pd.DataFrame, old_graph: nx.DiGraph | None = None
                 ) -> tuple[nx.DiGraph, dict[str, str]]:
    """``graph`` plus the removed units as ghosts, and ``{key: change}`` for units that differ.

    ``old_graph`` (the older run's graph) gives the ghosts their status and old edges;
    without it they are drawn unlinked, with status ``removed``.
    """
    import pandas as pd

    changes = {str(k): str(c) for k, c in zip(frame["key"], frame["change"], strict=True)}
    removed = [(str(k), str(kind), d) for k, kind, d, c in
               zip(frame["key"], frame["kind"], frame["depth"], frame["change"], strict=True)
               if c == "removed" and k not in graph]
    if not removed:
        return graph, changes
    graph = graph.copy()
    for key, kind, depth in removed:
        old = old_graph.nodes[key] if old_graph is not None and key in old_graph else {}
        known = depth is not None and not pd.isna(depth)
        graph.add_node(key, **{**old, "kind": kind,
                               "depth": int(depth) if known else int(old.get("depth") or 0),
                               "status": old.get("status", "removed"), "ghost": True})
    if old_graph is not None:
        for key, _, _ in removed:
            if key not in old_graph:
                continue
            for a, b, relation in (*old_graph.in_edges(key, data="relation"),
                                   *old_graph.out_edges(key, data="relation")):
                if a in graph and b in graph:
                    graph.add_edge(a, b, relation=relation or "", ghost=True)
    return graph, changes


def with_diff(graph: nx.DiGraph, diff: Any, source: Any
              ) -> tuple[nx.DiGraph, dict[str, str] | None]:
    """``graph`` (of ``source``) with the ``diff`` of `graph_widget` laid on it, if any."""
    if diff is None:
        return graph, None
    old_graph = diff.graph if isinstance(getattr(diff, "graph", None), nx.Graph) else None
    return diff_overlay(graph, diff_frame(diff, source), old_graph)
