"""Jupyter views of a run: the live widget, the interactive graph, summaries and drawings.

``display(run)`` or ``run.widget()`` shows `RunWidget`, refreshed from the kernel's loop
at a bounded rate while the cell has returned; when the run ends its output is replaced by
the final static summary (`summary_html`), so a saved notebook shows what a reader needs.
`show_graph` is the interactive graph (sigma.js through anywidget, ``stagekit[graph]``);
`draw_tree` draws a labelled SVG with tooltips, `plot_depths` units per depth
(matplotlib, ``stagekit[draw]``); `graph_html` and `write_graph_outputs` make files that
open offline.
"""

from stagekit.notebook.diff_view import DiffView, draw_diff, show_diff
from stagekit.notebook.draw import MAX_NODES, TreeDrawing, draw_tree, layered_layout, plot_depths
from stagekit.notebook.export import graph_html, write_graph_outputs
from stagekit.notebook.graph_view import graph_widget, show_graph
from stagekit.notebook.summary import human_bytes, summary_html, summary_text
from stagekit.notebook.widget import RunWidget, display_run, in_kernel, run_mimebundle

__all__ = [
    "MAX_NODES",
    "DiffView",
    "RunWidget",
    "TreeDrawing",
    "display_run",
    "draw_diff",
    "draw_tree",
    "graph_html",
    "graph_widget",
    "human_bytes",
    "in_kernel",
    "layered_layout",
    "plot_depths",
    "run_mimebundle",
    "show_diff",
    "show_graph",
    "summary_html",
    "summary_text",
    "write_graph_outputs",
]
