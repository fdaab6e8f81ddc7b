"""A graph snapshot as the widget sends it: numeric columns as binary buffers.

Synced as a dict of plain lists, a 50,000-unit snapshot costs about 1 s of CPU per
refresh in ipywidgets alone (it walks every element looking for buffers), and JSON for
the numbers is most of the rest. Here each numeric column is one buffer of native
little-endian numbers (int32, or float64 with NaN for a missing size), the keys are one
JSON buffer and the small remainder another: a handful of values for ipywidgets to look
at, and no Python work per unit. The view (``js/src/graph.js``) decodes it back into
the snapshot's columns; the offline page embeds the snapshot as JSON instead.
"""

from __future__ import annotations

import json
import math
import sys
from array import array
from itertools import chain
from typing import Any

__all__ = ["INT_COLUMNS", "encode"]

INT_COLUMNS = ("kind", "status", "depth", "src", "dst", "rel")


def _buffer(typecode: str, values: Any) -> bytes:
    column = array(typecode, values)
    if sys.byteorder != "little":
        column.byteswap()
    return column.tobytes()


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def encode(snapshot: dict[str, Any]) -> dict[str, bytes]:
    """``snapshot`` (`graph_snapshot` or `LiveSnapshot` columns) as named buffers."""
    rest = {k: v for k, v in snapshot.items()
            if k not in INT_COLUMNS and k not in ("keys", "size", "x", "order")}
    out = {name: _buffer("i", snapshot[name]) for name in INT_COLUMNS}
    out["keys"] = _json(snapshot["keys"])
    size = snapshot["size"]
    out["size"] = _buffer("d", [math.nan if s is None else s for s in size]
                          if None in size else size)
    if "x" in snapshot:
        out["x"] = _buffer("d", snapshot["x"])
    if "order" in snapshot:
        # Layers one after another, deepest last; meta says how long each is.
        depths = sorted(snapshot["order"], key=int)
        rest["order_layers"] = [[int(d), len(snapshot["order"][d])] for d in depths]
        out["order"] = _buffer("i", chain.from_iterable(snapshot["order"][d] for d in depths))
    out["meta"] = _json(rest)
    return out
