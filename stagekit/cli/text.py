"""Plain-text tables and numbers for the command line (no pandas: the CLI starts fast)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

__all__ = ["human_bytes", "table"]


def human_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"`` (as the notebook views write it)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def table(header: Sequence[str], rows: Sequence[Sequence[Any]],
          right: Collection[str] = ()) -> str:
    """Rows under a header, columns padded; the columns named in ``right`` right-aligned."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        parts = [cell.rjust(w) if name in right else cell.ljust(w)
                 for cell, w, name in zip(row, widths, header, strict=True)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)
