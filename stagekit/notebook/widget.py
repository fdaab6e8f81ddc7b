"""The live view of a run: ipywidgets refreshed from the kernel's loop at a bounded rate.

`RunWidget` reads `Run.stats` from one periodic task on the running loop (at most
``1 / interval`` refreshes a second, whatever the number of units: no widget is touched
per event). When the run ends, a done callback makes the final refresh and cancels that
task, before anything awaiting the run resumes. The task is owned by the widget:
`close` cancels it too.

Refreshes run in an empty `contextvars.Context`: ipykernel then sends the widget
messages under the request it is serving *now* rather than under the cell that created
the widget, so a client that records outputs per request (nbclient saving the widget
state, a later ``await run`` cell) sees the updates made after the first cell returned.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from html import escape
from typing import Any

import ipywidgets as widgets

from stagekit.notebook.summary import errors_html, headline, summary_html, summary_text

__all__ = ["RunWidget", "display_run", "in_kernel", "run_mimebundle"]

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 0.1  # seconds: at most ten refreshes a second
_BAR = "display:inline-block;height:10px;background:#4c78a8;vertical-align:middle"


def in_kernel() -> bool:
    """Whether we run inside a Jupyter kernel (where widgets can render)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _dashboard_html(run: Any) -> str:
    """A link to the Dask dashboard of a run on a cluster ("" otherwise)."""
    try:
        link = getattr(getattr(run, "cluster", None), "dashboard_link", None)
    except Exception:  # a client without a dashboard
        return ""
    if not isinstance(link, str) or not link:
        return ""
    return f' &middot; <a href="{escape(link)}" target="_blank">Dask dashboard</a>'


class RunWidget(widgets.VBox):
    """Progress per stage, units per depth, bytes and rate, failures and a stop button."""

    def __init__(self, run: Any, *, interval: float = DEFAULT_INTERVAL) -> None:
        self.run = run
        self.interval = interval
        self.updates = 0
        self.header = widgets.HTML()
        self._dashboard = _dashboard_html(run)
        self.bars: dict[str, widgets.IntProgress] = {}
        self._shown: dict[str, tuple[int, int, str]] = {}
        self.stages_box = widgets.VBox()
        # The per-stage bars name pipeline internals: folded under the overall line.
        self.details = widgets.Accordion(children=[self.stages_box], selected_index=None)
        self.details.set_title(0, "Pipeline stages")
        self.depths = widgets.HTML()
        self.failures = widgets.HTML()
        self.stop_button = widgets.Button(description="Stop", icon="stop",
                                          button_style="danger", tooltip="Cancel the run")
        self.stop_button.on_click(self._stop_clicked)
        self.progress = widgets.VBox([self.depths, self.details, self.failures])
        self.graph_box = widgets.VBox([widgets.HTML("<i>Select this tab to draw the graph.</i>")])
        self.graph: Any = None
        self.tabs = widgets.Tab(children=[self.progress, self.graph_box], selected_index=0)
        self.tabs.set_title(0, "Progress")
        self.tabs.set_title(1, "Graph")
        self.tabs.observe(self._tab_selected, names="selected_index")
        super().__init__([widgets.HBox([self.header, self.stop_button],
                                       layout={"align_items": "center"}), self.tabs])
        self._errors_seen = -1
        self._on_finish: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._finished = True  # until `_start` sees a run still going
        self.update()
        self._start()

    def show_graph_tab(self) -> Any:
        """Open the Graph tab (the interactive graph is made the first time); return it."""
        self.tabs.selected_index = 1
        return self.graph

    def _tab_selected(self, change: dict[str, Any]) -> None:
        if change["new"] != 1 or self.graph is not None:
            return
        # Made on demand: a graph nobody looks at costs the run nothing.
        from stagekit.extras import MissingExtraError
        from stagekit.notebook.graph_view import graph_widget

        try:
            self.graph = graph_widget(self.run)
        except MissingExtraError as exc:
            self.graph_box.children = [widgets.HTML(f"<b>{escape(str(exc))}</b>")]
            return
        self.graph_box.children = [self.graph]

    # -- refreshing ---------------------------------------------------------------

    def _start(self) -> None:
        if self.run.done:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None  # a script without a loop: the run cannot be going on here
        if loop is not None:
            self._task = loop.create_task(self._tick(), name="stagekit-run-widget")
        self._finished = False
        self.run.add_done_callback(self._run_ended)

    async def _tick(self) -> None:
        while True:
            # A timer, not synchronisation: it is what bounds the refresh rate.
            await asyncio.sleep(self.interval)
            contextvars.Context().run(self._safe_update)

    def _run_ended(self, _run: Any) -> None:
        """The final refresh, made as the run ends (before anyone awaiting it resumes)."""
        if self._task is not None:
            self._task.cancel()
        self._finished = True
        context = contextvars.Context()
        context.run(self._safe_update)
        callbacks, self._on_finish = self._on_finish, []
        for callback in callbacks:
            context.run(callback)

    def _safe_update(self) -> None:
        try:
            self.update()
        except Exception:  # a broken view must not take the kernel loop down with it
            log.exception("could not refresh the view of %r", self.run)

    def on_finish(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after the final refresh (at once if that was made)."""
        if self._finished:
            callback()
        else:
            self._on_finish.append(callback)

    @property
    def refreshing(self) -> bool:
        """Whether the periodic refresh is still running."""
        return self._task is not None and not self._task.done()

    async def wait_final(self) -> None:
        """Return once the final refresh was made and the periodic task has stopped."""
        if self._task is not None:
            await asyncio.wait({self._task})

    def close(self) -> None:
        """Stop refreshing and close the widgets."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self.graph is not None:
            self.graph.close()
        for child in (self.header, self.stages_box, self.details, self.depths, self.failures,
                      self.stop_button, self.progress, self.graph_box, self.tabs,
                      *self.bars.values()):
            child.close()
        super().close()

    def _stop_clicked(self, _button: Any) -> None:
        self.stop_button.disabled = True
        self.stop_button.description = "Stopping"
        self.run.cancel()

    # -- what is shown ------------------------------------------------------------

    def update(self) -> None:
        """Show the run's current stats (cheap: independent of the number of units)."""
        run = self.run
        stats = run.stats
        self.updates += 1
        status = stats["status"]
        self.header.value = f"<b>{escape(headline(run, stats))}</b>{self._dashboard}"
        self._update_stages(stats["stages"])
        self.depths.value = _depths_html(stats["depths"])
        if stats["errors"] != self._errors_seen:  # the error list is built only on change
            self._errors_seen = stats["errors"]
            self.failures.value = errors_html(run.errors)
        if run.done:
            self.stop_button.disabled = True
            self.stop_button.description = status.capitalize()
            self.stop_button.button_style = "" if status == "finished" else "warning"

    def _update_stages(self, stages: dict[str, dict[str, int]]) -> None:
        if not stages:
            return
        names = list(stages)
        if names != list(self.bars):
            style = {"description_width": "300px"}
            self.bars = {name: widgets.IntProgress(min=0, max=1, description=name, style=style,
                                                   layout={"width": "640px"})
                         for name in names}
            self.stages_box.children = list(self.bars.values())
        total = stages[names[0]]["out"]  # every unit the first stage put
        for name in names:
            done = stages[name]["out"] if name != names[-1] else stages[name]["in"]
            shown = (max(total, 1), min(done, max(total, 1)), f"{name} {done:,} / {total:,}")
            if self._shown.get(name) == shown:
                continue
            self._shown[name] = shown
            bar = self.bars[name]
            with bar.hold_sync():  # one message per changed bar and refresh
                bar.max, bar.value, bar.description = shown

    # -- display ------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(super()._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = summary_html(self.run)
        bundle["text/plain"] = summary_text(self.run)
        return bundle

    def final_view(self) -> dict[str, str]:
        """The static output that replaces the widget when the run ends (what is saved).

        The summary, and the drawing of the graph if its tab was opened.
        """
        html = summary_html(self.run)
        if self.graph is not None:
            from stagekit.notebook.draw import draw_tree

            html += draw_tree(self.run)._repr_html_()
        return {"text/html": html, "text/plain": summary_text(self.run)}

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self.run.done:
            display(self.final_view(), raw=True)
            return
        handle = display(self._repr_mimebundle_(), raw=True, display_id=True)
        if handle is not None:
            # A saved notebook must not need the kernel's widgets ("model not found"):
            # when the run ends, the widget's output becomes the final static view.
            self.on_finish(lambda: handle.update(self.final_view(), raw=True))


def _depths_html(depths: dict[int, int]) -> str:
    if not depths:
        return ""
    top = max(depths.values())
    rows = "".join(
        f"<tr><td style='padding:0 6px'>{depth}</td>"
        f"<td style='padding:0 6px;text-align:right'>{count:,}</td>"
        f"<td><span style='{_BAR};width:{max(1, round(150 * count / top))}px'></span></td></tr>"
        for depth, count in depths.items()
    )
    return (f"<table style='border-collapse:collapse'><tr><th>depth</th><th>units</th>"
            f"<th></th></tr>{rows}</table>")


def run_mimebundle(run: Any) -> dict[str, Any]:
    """What ``run`` displays as: the live widget in a kernel, the static summary elsewhere."""
    if in_kernel():
        return RunWidget(run)._repr_mimebundle_()
    return {"text/plain": summary_text(run), "text/html": summary_html(run)}


def display_run(run: Any) -> None:
    """Display ``run``: the live widget in a kernel (its summary updated at the end)."""
    from IPython.display import display

    if in_kernel():
        RunWidget(run)._ipython_display_()
    else:
        display({"text/plain": summary_text(run), "text/html": summary_html(run)}, raw=True)
