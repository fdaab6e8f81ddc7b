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
survived a collection waits, and not past a bound: when the frozen objects have grown
`FULL_COLLECTION_GROWTH` times since the run began (or since the last such collection),
one full collection runs on the event loop, so a long run (or a notebook's other work
during it) cannot pile up cyclic garbage without end, at a cost amortised over the run.
"""

from __future__ import annotations

import asyncio
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

#: How many times the frozen objects may grow before a full collection (see above).
FULL_COLLECTION_GROWTH = 4.0

_active = 0
_saved: tuple[int, ...] | None = None
_loop: asyncio.AbstractEventLoop | None = None  # where a full collection is run
_frozen_mark = 0  # frozen objects after the last full collection (or at the start)
_collecting = False  # a full collection is scheduled or running


def _freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    """A `gc.callbacks` hook: after a collection, freeze what survived it, and schedule a
    full collection once the frozen objects outgrow their bound (a callback may not
    collect itself; it may run in any thread)."""
    global _collecting
    if phase != "stop" or not _active:
        return
    gc.freeze()
    if (not _collecting and _loop is not None
            and gc.get_freeze_count() > FULL_COLLECTION_GROWTH * _frozen_mark):
        _collecting = True
        with contextlib.suppress(RuntimeError):  # the loop closed: the run is over
            _loop.call_soon_threadsafe(_collect_frozen)


def _collect_frozen() -> None:
    """Collect everything once (cyclic garbage frozen during the run included), then
    freeze what is left and take it as the new mark."""
    global _collecting, _frozen_mark
    try:
        if _active:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            _frozen_mark = gc.get_freeze_count()
    finally:
        _collecting = False


@contextlib.contextmanager
def relaxed_gc() -> Iterator[None]:
    """Freeze what exists, raise the young threshold and freeze what survives each
    collection until the block (and any concurrent one) ends; does nothing while the
    collector is disabled."""
    global _active, _saved, _loop, _frozen_mark
    if not gc.isenabled() and _active == 0:
        yield
        return
    if _active == 0:
        _saved = gc.get_threshold()
        gc.freeze()
        _frozen_mark = gc.get_freeze_count()
        try:
            _loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: nowhere to run a full collection, none is run
            _loop = None
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
            _saved, _loop = None, None
            gc.unfreeze()
