"""Garbage-collector settings for the length of a run.

A run allocates a few small objects per unit, most of which die young, while the
process may hold millions of long-lived ones (imported modules, a notebook's data).
CPython's collector scans the long-lived ones again at every full collection, so a run
pays for them per unit. During a run the objects that existed before it are frozen
(`gc.freeze`: never scanned, never freed) and young collections run less often; both
are undone when the last concurrent run ends. Nothing is freed later than it would be
after the run: unfrozen objects go back to the oldest generation.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["relaxed_gc"]

#: Allocations between young collections during a run (CPython's default is 700). A run
#: keeps most of what it allocates (records, events) until it ends, so each young
#: collection mostly scans survivors: at 10,000 the collector cost a flat run about
#: 13 us per unit, at 100,000 about 5 (cyclic garbage waits at most that many
#: allocations longer: a few MB).
RUN_THRESHOLD0 = 100_000

_active = 0
_saved: tuple[int, ...] | None = None


@contextlib.contextmanager
def relaxed_gc() -> Iterator[None]:
    """Freeze what exists and raise the young threshold until the block (and any
    concurrent one) ends; does nothing while the collector is disabled."""
    global _active, _saved
    if not gc.isenabled() and _active == 0:
        yield
        return
    if _active == 0:
        _saved = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(max(_saved[0], RUN_THRESHOLD0), *_saved[1:])
    _active += 1
    try:
        yield
    finally:
        _active -= 1
        if _active == 0 and _saved is not None:
            gc.set_threshold(*_saved)
            _saved = None
            gc.unfreeze()
