"""What happened during a run, as small records that `stagekit.run` turns into tables.

Stages and discovery emit events on the pipeline's `EventBus`; a `Run` subscribes and
keeps the graph and the rows. Emitting with no subscriber costs one attribute check.
Events are read-only by convention, not frozen: a run makes about three per unit, and a
frozen dataclass costs several times as much to build.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ArtifactFinished",
    "EdgeAdded",
    "Event",
    "EventBus",
    "KnownBlock",
    "KnownUnitsFinished",
    "KnownUnitsFound",
    "UnitDepthChanged",
    "UnitDiscovered",
    "UnitFinished",
]


@dataclass(slots=True)
class UnitDiscovered:
    """A unit seen for the first time (``parent`` is None for roots)."""

    key: str
    kind: str
    depth: int
    parent: str | None
    relation: str | None
    n_artifacts: int = 0
    natural_key: tuple[Any, ...] = ()
    time: float = field(default_factory=time.time)


@dataclass(slots=True)
class EdgeAdded:
    """A further parent of an already known unit."""

    parent: str
    child: str
    relation: str | None


@dataclass(slots=True)
class UnitDepthChanged:
    """A unit was reached by a shorter path."""

    key: str
    depth: int


@dataclass(slots=True)
class UnitFinished:
    """A unit left the pipeline: ``status`` is one of the design's statuses."""

    key: str
    status: str
    error: str | None = None
    size: int | None = None
    time: float = field(default_factory=time.time)


@dataclass(slots=True)
class ArtifactFinished:
    """An artifact of a unit was fetched, found in the store, deferred or failed."""

    unit_key: str
    relative_path: str
    url: str
    size: int | None
    sha256: str | None
    status: str
    error: str | None = None
    tries: int = 0
    verified: bool = True
    time: float = field(default_factory=time.time)


#: Reads a block's rows from the catalog: ``{key: (status, error, size, n_artifacts)}``
#: (status None while not copied) and ``(key, relative_path, url, sha256, size, status,
#: error, tries)`` per artifact (see `stagekit.storage.Catalog.known_block_rows`).
BlockLoader = Callable[[], "tuple[dict[str, tuple[Any, ...]], list[tuple[Any, ...]]]"]


@dataclass(slots=True, eq=False)
class KnownBlock:
    """Leaves an earlier run found below ``parent``, recorded in bulk (`stagekit.known`).

    ``keys`` (with ``natural_keys``) are the units new to this run, all at ``depth``
    unless ``depths`` says otherwise; what else a run knows of them (statuses, sizes,
    artifacts) is read from the catalog by ``load`` when somebody asks. ``statuses``
    counts them by status once their rows are copied (``finished_at`` set).
    """

    parent: str
    relation: str
    kind: str
    depth: int
    keys: list[str]
    natural_keys: list[tuple[Any, ...]]
    load: BlockLoader
    discovered_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    #: Shorter depths some of them got later, by key.
    depths: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class KnownUnitsFound:
    """The units of ``block`` were found (as many `UnitDiscovered` would say)."""

    block: KnownBlock


@dataclass(slots=True)
class KnownUnitsFinished:
    """The units of ``block`` were recorded; ``block.statuses`` counts them by status."""

    block: KnownBlock


Event = (UnitDiscovered | EdgeAdded | UnitDepthChanged | UnitFinished | ArtifactFinished
         | KnownUnitsFound | KnownUnitsFinished)


class EventBus:
    """Delivers events synchronously to subscribers, in order."""

    __slots__ = ("_subscribers", "active")

    def __init__(self) -> None:
        self._subscribers: list[Callable[[Event], None]] = []
        #: Whether anybody listens (lets emitters skip building events): kept as a plain
        #: attribute because every unit reads it several times.
        self.active = False

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns a function that unsubscribes."""
        self._subscribers.append(callback)
        self.active = True

        def unsubscribe() -> None:
            self._subscribers.remove(callback)
            self.active = bool(self._subscribers)

        return unsubscribe

    def emit(self, event: Event) -> None:
        """Hand ``event`` to every subscriber."""
        for callback in self._subscribers:
            callback(event)
