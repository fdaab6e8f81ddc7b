"""Files a reader opens without Jupyter: the interactive graph as one offline HTML page.

`graph_html` inlines the bundled JavaScript and the graph's snapshot into one page that a
browser opens from disk with no network (no CDN, no fetch). `write_graph_outputs` writes
that page and the static drawing (`draw_tree`: every unit when the run is small, one node
per depth x kind past `MAX_NODES`) for the CLI and the demo.
"""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path
from typing import Any

from stagekit.graphs import GraphFilter, subgraph
from stagekit.notebook.draw import MAX_NODES, _graph, draw_tree
from stagekit.notebook.graph_diff import with_diff
from stagekit.notebook.graph_view import AGGREGATE_ABOVE, bundle_path
from stagekit.notebook.snapshot import graph_snapshot

__all__ = ["graph_html", "write_graph_outputs"]

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; \
script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; img-src data:; worker-src blob:">
<title>{title}</title>
<style>body{{font-family:sans-serif;margin:12px}}</style></head>
<body><h3>{title}</h3>
<div id="stagekit-graph"></div>
<script type="application/json" id="stagekit-graph-data">{data}</script>
<script type="module">{bundle}</script>
<script type="module">
const state = JSON.parse(document.getElementById("stagekit-graph-data").textContent);
const model = {{get: (name) => state[name], set() {{}}, save_changes() {{}}, on() {{}},
               off() {{}}, send() {{}}}};
window.stagekitGraph.render({{model, el: document.getElementById("stagekit-graph")}});
</script></body></html>
"""


def _inline_json(value: Any) -> str:
    """JSON that cannot close its ``<script>`` element: every ``<`` is escaped."""
    return json.dumps(value).replace("<", "\\u003c")


def _inline_script(code: str) -> str:
    """The bundle, refusing code that would close its ``<script>`` element early."""
    if re.search(r"</script|<!--", code, re.IGNORECASE):
        raise ValueError(f"{bundle_path()} cannot be inlined: it holds '</script' or '<!--'")
    return code


def graph_html(source: Any, *, title: str | None = None, color_by: str | None = None,
               aggregate_above: int = AGGREGATE_ABOVE, diff: Any = None,
               **filters: Any) -> str:
    """One self-contained HTML page with the interactive graph of ``source``.

    ``filters`` are those of `Run.subgraph`; the page's own filter box refines further.
    ``diff`` (an older `Run`, or the DataFrame of ``stagekit.diff``) colours what changed
    and adds the removed units as ghosts, as `graph_widget` does.
    """
    graph = _graph(source)
    total = graph.number_of_nodes()
    if GraphFilter(**filters):
        graph = subgraph(graph, **filters)
    graph, changes = with_diff(graph, diff, source)
    if color_by is None:
        color_by = "diff" if diff is not None else "kind"
    state = {"data": graph_snapshot(graph, total=total, changes=changes), "color_by": color_by,
             "size_by": "none", "layout": "layered", "aggregate_above": aggregate_above}
    if title is None:
        title = (f"{total:,} units, {graph.number_of_edges():,} edges")
        describe = getattr(getattr(source, "remote", None), "describe", None)
        if callable(describe):
            title = f"{describe()}: {title}"
    return _PAGE.format(title=escape(title), data=_inline_json(state),
                        bundle=_inline_script(bundle_path().read_text(encoding="utf-8")))


def write_graph_outputs(run: Any, folder: str | Path, *,
                        max_nodes: int = MAX_NODES) -> list[Path]:
    """Write ``tree.svg`` (aggregated past ``max_nodes`` units) and ``graph.html``.

    Returns the paths written. The HTML page opens offline in any browser.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    svg = draw_tree(run, max_nodes=max_nodes).save(folder / "tree.svg")
    page = folder / "graph.html"
    page.write_text(graph_html(run), encoding="utf-8")
    return [svg, page]
