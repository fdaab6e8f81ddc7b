"""A run's state as static HTML and text, for where widgets cannot render.

Exported notebooks, plain terminals and the widget's own fallback all show the same
summary: status, units per status, depth and stage, bytes, rate and the first errors.
Everything is escaped; nothing is loaded from outside the page.
"""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["headline", "human_bytes", "overall", "summary_html", "summary_text"]

MAX_ERRORS = 10

_TABLE = 'style="border-collapse:collapse;margin:2px 12px 2px 0;display:inline-table"'
_CELL = 'style="padding:1px 6px;text-align:right"'
_HEAD = 'style="padding:1px 6px;text-align:left"'


def human_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def overall(stats: dict[str, Any]) -> str:
    """What a user wants first: units found/done/failed, bytes, rate, time, deepest level."""
    found, failed = stats["units"], stats["errors"]
    done = found - stats["statuses"].get("discovered", 0) - failed
    deepest = max(stats["depths"], default=None)
    level = f", deepest level {deepest}" if deepest is not None else ""
    return (
        f"{found:,} units found, {done:,} done, {failed:,} failed · "
        f"{human_bytes(stats['bytes'])} at {human_bytes(stats['bytes_per_second'])}/s · "
        f"{stats['elapsed']:.1f} s{level}"
    )


def headline(run: Any, stats: dict[str, Any]) -> str:
    """One line: what is explored, its status, then `overall`."""
    return f"{run.remote.describe()}: {stats['status']} · {overall(stats)}"


def _table(title: str, header: tuple[str, str], rows: list[tuple[Any, Any]]) -> str:
    cells = "".join(
        f"<tr><td {_HEAD}>{escape(str(a))}</td><td {_CELL}>{escape(str(b))}</td></tr>"
        for a, b in rows
    )
    return (
        f"<table {_TABLE}><caption style='text-align:left'><b>{escape(title)}</b></caption>"
        f"<tr><th {_HEAD}>{escape(header[0])}</th><th {_CELL}>{escape(header[1])}</th></tr>"
        f"{cells}</table>"
    )


def errors_html(errors: list[tuple[str, str]], limit: int = MAX_ERRORS) -> str:
    """The first ``limit`` failed units and their errors as an HTML list."""
    if not errors:
        return ""
    items = "".join(
        f"<li><code>{escape(key)}</code>: {escape(error)}</li>" for key, error in errors[:limit]
    )
    more = f"<li>... and {len(errors) - limit:,} more</li>" if len(errors) > limit else ""
    return f"<div><b>Failures ({len(errors):,})</b><ul style='margin:0'>{items}{more}</ul></div>"


def summary_html(run: Any) -> str:
    """The whole summary of ``run`` as one self-contained HTML fragment."""
    stats = run.stats
    stages = [(name, f"{s['out']:,}") for name, s in stats["stages"].items()]
    parts = [
        f"<div class='stagekit-run-summary'><div><b>{escape(headline(run, stats))}</b></div>",
        _table("Status", ("status", "units"), [(k, f"{v:,}") for k, v in
                                               stats["statuses"].items()]),
        _table("Depth", ("depth", "units"), [(k, f"{v:,}") for k, v in stats["depths"].items()]),
        _table("Stages", ("stage", "passed"), stages) if stages else "",
        errors_html(run.errors),
        "</div>",
    ]
    return "".join(parts)


def summary_text(run: Any) -> str:
    """The summary as plain text (a terminal's view of a run)."""
    stats = run.stats
    lines = [headline(run, stats)]
    if stats["depths"]:
        lines.append("  per depth: " + ", ".join(f"{d}: {n:,}" for d, n in
                                                stats["depths"].items()))
    if stats["statuses"]:
        lines.append("  per status: " + ", ".join(f"{k}: {v:,}" for k, v in
                                                 stats["statuses"].items()))
    errors = run.errors
    for key, error in errors[:MAX_ERRORS]:
        lines.append(f"  failed {key}: {error}")
    if len(errors) > MAX_ERRORS:
        lines.append(f"  ... and {len(errors) - MAX_ERRORS:,} more failures")
    return "\n".join(lines)
