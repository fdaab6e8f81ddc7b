"""Garbage-collector settings for the length of a run.

A run allocates a few small objects per unit, most of which die young, while the
process may hold millions of long-lived ones (imported modules, a notebook's data) and
the run itself keeps a record or two per unit until it ends. CPython's collector scans
the survivors of young collections again in every older collection, so a run would pay
for them per unit, and a collection of the older generations near the end of a large run
holds the GIL for hundreds of milliseconds. During a run the objects that existed before
it are frozen (`gc.freeze`: never scanned, never freed), young collections run less
often, and what survives a young collection is frozen with them, so no collection scans
an object twice and none lasts longer than a young one; all of it is undone when the
last concurrent run ends (unfrozen objects go back to the oldest generation). Reference
counting frees objects as usual meanwhile: only cyclic garbage made of objects that
survived a collection waits for the end of the run.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import Any

__all__ = ["relaxed_gc"]

#: Allocations between young collections during a run (CPython's default is 700; each
#: collection costs a fixed part, so a run pays less with fewer). A young collection
#: scans what was allocated since the last one and is still alive, 0.3-0.6 us per
#: object, and a large run keeps most of what it allocates: at 100,000 one held the
#: event loop for 50-80 ms in a 60,000-package Debian run; at 30,000 (about 45,000
#: objects: the count is allocations less deallocations, frozen objects' included) 15-30.
RUN_THRESHOLD0 = 30_000

_active = 0
_saved: tuple[int, ...] | None = None


def _freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    """A `gc.callbacks` hook: after a collection, freeze what survived it."""
    if phase == "stop" and _active:
        gc.freeze()


@contextlib.contextmanager
def relaxed_gc() -> Iterator[None]:
    """Freeze what exists, raise the young threshold and freeze what survives each
    collection until the block (and any concurrent one) ends; does nothing while the
    collector is disabled."""
    global _active, _saved
    if not gc.isenabled() and _active == 0:
        yield
        return
    if _active == 0:
        _saved = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(max(_saved[0], RUN_THRESHOLD0), *_saved[1:])
        gc.callbacks.append(_freeze_survivors)
    _active += 1
    try:
        yield
    finally:
        _active -= 1
        if _active == 0 and _saved is not None:
            with contextlib.suppress(ValueError):
                gc.callbacks.remove(_freeze_survivors)
            gc.set_threshold(*_saved)
            _saved = None
            gc.unfreeze()
