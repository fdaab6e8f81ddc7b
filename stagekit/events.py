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
    "UnitDepthChanged",
    "UnitDiscovered",
    "UnitFinished",
]


def _now() -> float:
    return time.time()


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
    time: float = field(default_factory=_now)


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
    time: float = field(default_factory=_now)


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
    time: float = field(default_factory=_now)


Event = UnitDiscovered | EdgeAdded | UnitDepthChanged | UnitFinished | ArtifactFinished


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
