"""The interactive discovery graph in Jupyter: an anywidget drawing with sigma.js (WebGL).

`show_graph(run)` displays it (``show_graph(run, diff=older_run)``: what changed since);
while the run goes on it grows from the kernel's loop (`LiveSnapshot`: only new units are
placed, nothing is laid out again, so following a run stays cheap). Its refresh rate
adapts to the graph's size: a refresh that took ``t`` seconds is followed by a pause of
at least ``t / MAX_SHARE``, so building snapshots never takes more than that share of the
loop (and a 50,000-unit graph is not rebuilt ten times a second). The JavaScript
(sigma.js and graphology, bundled) ships inside the package: nothing is loaded from a
CDN. Needs ``pip install 'stagekit[graph]'`` (anywidget).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from functools import cache
from pathlib import Path
from typing import Any

from stagekit.extras import require_extra
from stagekit.graphs import GraphFilter, subgraph
from stagekit.notebook.draw import _graph
from stagekit.notebook.graph_diff import diff_frame, with_diff
from stagekit.notebook.live_snapshot import LiveSnapshot
from stagekit.notebook.payload import encode
from stagekit.notebook.snapshot import graph_snapshot

__all__ = ["AGGREGATE_ABOVE", "MAX_SHARE", "bundle_path", "graph_widget", "show_graph"]

log = logging.getLogger(__name__)

AGGREGATE_ABOVE = 2000  # units past which the view starts from the depth x kind groups
FULL_LAYOUT_UNTIL = 2000  # units up to which a run's final refresh lays it out afresh
MAX_SHARE = 0.02  # of the loop's time that refreshing the graph may take
MIN_INTERVAL = 0.5  # seconds between refreshes at least
STATIC = Path(__file__).resolve().parent / "static"


def bundle_path() -> Path:
    """The bundled JavaScript module of the view (sigma.js, graphology and stagekit's code)."""
    return STATIC / "graph.js"


@cache
def _widget_class() -> type:
    require_extra("graph")
    import anywidget
    import traitlets

    class GraphWidget(anywidget.AnyWidget):
        """The discovery graph, layered by depth; grows while its run goes on."""

        _esm = bundle_path()
        #: The snapshot (`graph_snapshot`'s columns), observable from Python.
        data = traitlets.Dict()
        #: What the view receives: the snapshot as a few binary buffers (`payload.encode`).
        payload = traitlets.Dict().tag(sync=True)
        color_by = traitlets.Unicode("kind").tag(sync=True)
        size_by = traitlets.Unicode("none").tag(sync=True)
        layout = traitlets.Unicode("layered").tag(sync=True)
        aggregate_above = traitlets.Int(AGGREGATE_ABOVE).tag(sync=True)

        def __init__(self, source: Any, filters: dict[str, Any], diff: Any = None,
                     **traits: Any) -> None:
            super().__init__(**traits)
            self.source = source
            self.filters = filters
            self.diff = diff
            # A plain growing run is followed by what changed (`LiveSnapshot`), not rebuilt.
            self._live = (LiveSnapshot() if diff is None and not GraphFilter(**filters)
                          and hasattr(source, "records") and not source.done else None)
            self.refreshes = 0
            self.refresh_seconds = 0.0
            self._task: asyncio.Task[None] | None = None
            self.refresh()
            run = source if hasattr(source, "add_done_callback") else None
            if run is not None and not run.done:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    loop = None
                if loop is not None:
                    self._task = loop.create_task(self._tick(), name="stagekit-graph")
                run.add_done_callback(self._run_ended)

        def refresh(self) -> None:
            """Send the graph as it is now (filtered, positioned) to the view."""
            started = time.perf_counter()
            running = not getattr(self.source, "done", True)
            if self._live is not None:
                data = self._live.update(self.source.records, running=running)
                if running or len(data["keys"]) > FULL_LAYOUT_UNTIL:
                    self._publish(data, started)
                    return
            graph = _graph(self.source)
            total = graph.number_of_nodes()
            if GraphFilter(**self.filters):
                graph = subgraph(graph, **self.filters)
            graph, changes = with_diff(graph, self.diff, self.source)
            # Barycentre sweeps cost O(units) each: one pass while growing, more at the end
            # for graphs small enough to afford them.
            sweeps = 0 if running else 2 if graph.number_of_nodes() <= 20_000 else 0
            self._publish(graph_snapshot(graph, total=total, running=running, sweeps=sweeps,
                                         changes=changes), started)

        def _publish(self, data: dict[str, Any], started: float) -> None:
            self.payload = encode(data)
            self.data = data
            self.refreshes += 1
            self.refresh_seconds = time.perf_counter() - started

        async def _tick(self) -> None:
            while True:
                # A timer that bounds the refresh rate, not synchronisation.
                await asyncio.sleep(max(MIN_INTERVAL, self.refresh_seconds / MAX_SHARE))
                contextvars.Context().run(self._safe_refresh)

        def _safe_refresh(self) -> None:
            try:
                self.refresh()
            except Exception:  # a broken view must not take the kernel loop down
                log.exception("could not refresh the graph of %r", self.source)

        def _run_ended(self, _run: Any) -> None:
            if self._task is not None:
                self._task.cancel()
            contextvars.Context().run(self._safe_refresh)

        def __repr__(self) -> str:
            return f"<interactive graph of {len(self.data.get('keys', ())):,} units>"

        @property
        def refreshing(self) -> bool:
            """Whether the periodic refresh is still running."""
            return self._task is not None and not self._task.done()

        def close(self) -> None:
            """Stop refreshing and close the widget."""
            if self._task is not None and not self._task.done():
                self._task.cancel()
            super().close()

    return GraphWidget


def graph_widget(source: Any, *, color_by: str | None = None, size_by: str = "none",
                 layout: str = "layered", aggregate_above: int = AGGREGATE_ABOVE,
                 diff: Any = None, **filters: Any) -> Any:
    """The interactive graph of ``source`` (a `Run` or a networkx graph) as a widget.

    ``filters`` (``kinds``, ``statuses``, ``depths``, ``key``) are those of `Run.subgraph`.
    ``color_by`` is ``kind`` (the default), ``status``, ``conflict`` or ``diff``;
    ``size_by`` ``none``, ``subtree`` or ``bytes``; ``layout`` ``layered`` (by depth) or
    ``force``. ``diff`` is an older `Run` (or the DataFrame of ``stagekit.diff(old,
    source)``): units added, removed or changed since then are coloured (``color_by``
    defaults to ``diff``) and the removed ones drawn as faded ghosts at their old place.
    """
    if color_by is None:
        color_by = "diff" if diff is not None else "kind"
    for name, value, allowed in (("color_by", color_by, ("kind", "status", "conflict", "diff")),
                                 ("size_by", size_by, ("none", "subtree", "bytes")),
                                 ("layout", layout, ("layered", "force"))):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    if color_by == "diff" and diff is None:
        raise ValueError("color_by='diff' needs diff=<the older Run>")
    GraphFilter(**filters)  # a wrong filter fails here, not in the loop later
    _graph(source)
    if diff is not None:
        diff_frame(diff, source)  # a wrong diff fails here too
    return _widget_class()(source, filters, diff, color_by=color_by, size_by=size_by,
                           layout=layout, aggregate_above=aggregate_above)


def show_graph(source: Any, **options: Any) -> Any:
    """Display the interactive graph of ``source`` and return its widget (see `graph_widget`)."""
    from IPython.display import display

    widget = graph_widget(source, **options)
    display(widget)
    return widget
