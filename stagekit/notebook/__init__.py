"""Jupyter views of a run: the live widget, a static summary, and depth drawings.

``display(run)`` or ``run.widget()`` shows `RunWidget`, refreshed from the kernel's loop
at a bounded rate while the cell has returned; where widgets cannot render, the same
state shows as static HTML (`summary_html`). `draw_tree` and `plot_depths` draw the
discovery graph as SVG saved in the notebook.
"""

from stagekit.notebook.diff_view import DiffView, draw_diff, show_diff
from stagekit.notebook.draw import MAX_NODES, draw_tree, layered_layout, plot_depths
from stagekit.notebook.summary import human_bytes, summary_html, summary_text
from stagekit.notebook.widget import RunWidget, display_run, in_kernel, run_mimebundle

__all__ = [
    "MAX_NODES",
    "DiffView",
    "RunWidget",
    "display_run",
    "draw_diff",
    "draw_tree",
    "human_bytes",
    "in_kernel",
    "layered_layout",
    "plot_depths",
    "run_mimebundle",
    "show_diff",
    "summary_html",
    "summary_text",
]
