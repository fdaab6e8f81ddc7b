"""`stagekit.diff` in a notebook: a table coloured per change, and the new run's tree with
added and changed units highlighted.

``DiffView(frame)`` renders as HTML (``_repr_html_``), so ending a cell with
``DiffView(stagekit.diff(old, new))`` (or ``show_diff(old, new)``) shows it; ``draw_diff``
reuses `stagekit.notebook.draw_tree` with a colour per change.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from stagekit.run import Run

__all__ = ["CHANGE_COLOURS", "DiffView", "draw_diff", "show_diff"]

#: Colour per change; "unchanged" is for the tree, where every unit of the new run is drawn.
CHANGE_COLOURS = {"added": "#54a24b", "removed": "#e45756", "changed": "#f58518",
                  "unchanged": "#d8d8d8"}
_ROW_TINT = {"added": "#e6f4e3", "removed": "#fbe3e3", "changed": "#fdebd9"}
_SHOWN = ("change", "key", "kind", "depth", "old_size", "new_size", "old_digest",
          "new_digest")


def _cell(value: Any, column: str) -> str:
    import pandas as pd

    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return "-"
    if column.endswith("_digest"):
        return f'<code title="{html.escape(str(value))}">{html.escape(str(value)[:12])}</code>'
    if column.endswith("_size"):
        from stagekit.notebook.summary import human_bytes

        return human_bytes(int(value))
    return html.escape(str(value))


class DiffView:
    """A diff table that renders in Jupyter with a colour per change and a count line."""

    def __init__(self, frame: pd.DataFrame, max_rows: int = 200) -> None:
        self.frame = frame
        self.max_rows = max_rows

    def counts(self) -> dict[str, int]:
        """Units per change (added, removed, changed)."""
        counts = self.frame["change"].value_counts()
        return {c: int(counts.get(c, 0)) for c in ("added", "removed", "changed")}

    def _repr_html_(self) -> str:
        counts = self.counts()
        head = ", ".join(
            f'<span style="color:{CHANGE_COLOURS[c]};font-weight:bold">{n} {c}</span>'
            for c, n in counts.items())
        if self.frame.empty:
            return "<div><b>What changed:</b> nothing</div>"
        rows = []
        for record in self.frame.head(self.max_rows).to_dict("records"):
            tint = _ROW_TINT.get(str(record["change"]), "")
            cells = "".join(f'<td style="padding:1px 6px">{_cell(record.get(c), c)}</td>'
                            for c in _SHOWN)
            rows.append(f'<tr style="background:{tint}">{cells}</tr>')
        more = len(self.frame) - self.max_rows
        tail = f"<div>… and {more:,} more rows</div>" if more > 0 else ""
        header = "".join(f'<th style="padding:1px 6px;text-align:left">{c}</th>'
                         for c in _SHOWN)
        return (f"<div><b>What changed:</b> {head}</div>"
                f'<table style="border-collapse:collapse"><tr>{header}</tr>'
                f"{''.join(rows)}</table>{tail}")

    def __repr__(self) -> str:
        counts = self.counts()
        return f"<DiffView {counts['added']} added, {counts['removed']} removed, " \
               f"{counts['changed']} changed>"


def show_diff(old: Run | int, new: Run | int, store: Any = None) -> DiffView:
    """`stagekit.diff` of ``old`` and ``new``, as a `DiffView`."""
    from stagekit.diff import diff

    return DiffView(diff(old, new, store))


@contextlib.contextmanager
def _change_colours() -> Iterator[None]:
    # draw_tree colours by "status" with fixed colours for known values; the change
    # labels join them only while this drawing is made (draw.py belongs to the views).
    from stagekit.notebook import draw

    colours = draw.STATUS_COLOURS
    saved = dict(colours)
    colours.update(CHANGE_COLOURS)
    try:
        yield
    finally:
        colours.clear()
        colours.update(saved)


def draw_diff(new: Run, frame: pd.DataFrame, **options: Any) -> Any:
    """The tree of run ``new`` with each unit coloured by its change in ``frame`` (the
    `stagekit.diff` that ends with ``new``); unchanged units are grey, removed ones are
    not in the new run and are counted in the title. ``options`` go to `draw_tree`."""
    from stagekit.notebook.draw import draw_tree

    graph = new.graph
    changes = dict(zip(frame["key"], frame["change"].astype(str), strict=True))
    for node, data in graph.nodes(data=True):
        data["status"] = changes.get(node, "unchanged")
    removed = sum(1 for c in changes.values() if c == "removed")
    counts = DiffView(frame).counts()
    options.setdefault("title", f"{graph.number_of_nodes():,} units: {counts['added']} "
                                f"added, {counts['changed']} changed ({removed} removed)")
    with _change_colours():
        return draw_tree(graph, color_by="status", **options)
