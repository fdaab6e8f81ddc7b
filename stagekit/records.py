"""What a run found, kept compactly and turned into a graph or DataFrames on demand.

`RunRecorder` subscribes to a pipeline's events. Every read (`to_dataframe`,
`artifacts_dataframe`, `graph`) builds a fresh object from the records in one go on
the loop's thread, so it is a consistent snapshot even while the run goes on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from stagekit.events import (
    ArtifactFinished,
    EdgeAdded,
    Event,
    UnitDepthChanged,
    UnitDiscovered,
    UnitFinished,
)
from stagekit.status import ARTIFACT_STATUSES, UNIT_STATUSES

if TYPE_CHECKING:  # pandas and networkx load on first use: a headless run needs neither
    import networkx as nx
    import pandas as pd

__all__ = ["STATUSES", "RunRecorder", "UnitRecord", "artifact_columns", "unit_columns"]

STATUSES = UNIT_STATUSES  # the rule that sets them: `stagekit.status`


@cache
def unit_columns() -> dict[str, Any]:
    """Columns and dtypes of `RunRecorder.to_dataframe`."""
    import pandas as pd

    return {
        "key": "string",
        "kind": "category",
        "depth": "Int64",
        "parents": "Int64",
        "relation": "string",
        "status": pd.CategoricalDtype(list(STATUSES)),
        "error": "string",
        "size": "Int64",
        "artifacts": "Int64",
        "deferred": "Int64",
        "discovered_at": "datetime64[ns, UTC]",
        "finished_at": "datetime64[ns, UTC]",
        "seconds": "Float64",
    }


@cache
def artifact_columns() -> dict[str, Any]:
    """Columns and dtypes of `RunRecorder.artifacts_dataframe`."""
    import pandas as pd

    return {
        "unit_key": "string",
        "relative_path": "string",
        "url": "string",
        "size": "Int64",
        "sha256": "string",
        "status": pd.CategoricalDtype(list(ARTIFACT_STATUSES)),
        "verified": "boolean",
        "tries": "Int64",
        "error": "string",
        "finished_at": "datetime64[ns, UTC]",
    }


@dataclass(slots=True)
class UnitRecord:
    """One unit as seen by a run."""

    key: str
    kind: str
    depth: int
    relation: str | None
    n_artifacts: int
    discovered_at: float
    natural_key: tuple[Any, ...] = ()
    parents: int = 0
    status: str = "discovered"
    error: str | None = None
    size: int | None = None
    finished_at: float | None = None

    def row(self, deferred: int = 0) -> tuple[Any, ...]:
        seconds = None if self.finished_at is None else self.finished_at - self.discovered_at
        return (
            self.key, self.kind, self.depth, self.parents, self.relation, self.status,
            self.error, self.size, self.n_artifacts, deferred, self.discovered_at,
            self.finished_at, seconds,
        )


@dataclass(slots=True)
class RunRecorder:
    """Units, edges and artifacts of one run, fed by events."""

    units: dict[str, UnitRecord] = field(default_factory=dict)
    edges: dict[tuple[str, str], str | None] = field(default_factory=dict)
    artifacts: dict[tuple[str, str], ArtifactFinished] = field(default_factory=dict)
    bytes_downloaded: int = 0
    status_counts: Counter[str] = field(default_factory=Counter)
    depth_counts: Counter[int] = field(default_factory=Counter)
    #: Units whose depth went down after they were found (the catalog may hold the old one).
    depth_changed: set[str] = field(default_factory=set)

    def __call__(self, event: Event) -> None:
        """Record ``event`` (this object is an `EventBus` subscriber)."""
        # One dict lookup instead of a chain of isinstance checks: called ~3 times a unit.
        handler = _HANDLERS.get(type(event))
        if handler is None:  # a subclass of an event type
            handler = next((h for t, h in _HANDLERS.items() if isinstance(event, t)), None)
            if handler is None:
                return
        handler(self, event)

    def _artifact(self, event: ArtifactFinished) -> None:
        self.artifacts[(event.unit_key, event.relative_path)] = event
        if event.status == "downloaded" and event.size:
            self.bytes_downloaded += event.size

    def _edge_added(self, event: EdgeAdded) -> None:
        self._edge(event.parent, event.child, event.relation)

    def _depth_changed(self, event: UnitDepthChanged) -> None:
        record = self.units.get(event.key)
        if record is not None:
            self.depth_counts[record.depth] -= 1
            self.depth_counts[event.depth] += 1
            record.depth = event.depth
            self.depth_changed.add(event.key)

    def _discovered(self, event: UnitDiscovered) -> None:
        if event.key in self.units:
            return
        self.units[event.key] = UnitRecord(
            event.key, event.kind, event.depth, event.relation, event.n_artifacts, event.time,
            event.natural_key,
        )
        self.status_counts["discovered"] += 1
        self.depth_counts[event.depth] += 1
        if event.parent is not None:
            self._edge(event.parent, event.key, event.relation)

    def _edge(self, parent: str, child: str, relation: str | None) -> None:
        if (parent, child) in self.edges:
            return
        self.edges[(parent, child)] = relation
        record = self.units.get(child)
        if record is not None:
            record.parents += 1

    def _finished(self, event: UnitFinished) -> None:
        record = self.units.get(event.key)
        if record is None:
            return
        if record.status == "failed" and event.status != "failed":
            return  # a unit whose discovery failed stays failed
        self.status_counts[record.status] -= 1
        self.status_counts[event.status] += 1
        record.status = event.status
        record.error = event.error
        if event.size is not None:
            record.size = event.size
        record.finished_at = event.time

    @classmethod
    def from_saved(cls, saved: Any) -> RunRecorder:
        """Rebuild the records of a past run from `Store.load_run`'s `RunRecords`."""
        recorder = cls()
        counts = Counter(a["unit_key"] for a in saved.artifacts)
        for unit in saved.units:
            key = unit["key"]
            record = UnitRecord(
                key, unit["kind"], unit["depth"] or 0, unit.get("relation"),
                unit.get("n_artifacts", counts[key]), _epoch(unit.get("started_at")),
                tuple(unit.get("natural_key") or ()), status=unit["status"] or "discovered",
                error=unit.get("error"), size=unit.get("size"),
                finished_at=_epoch(unit.get("finished_at")),
            )
            recorder.units[key] = record
            recorder.status_counts[record.status] += 1
            recorder.depth_counts[record.depth] += 1
        for edge in saved.edges:
            recorder._edge(edge["parent"], edge["child"], edge.get("relation"))
            child = recorder.units.get(edge["child"])
            if child is not None and child.relation is None:
                child.relation = edge.get("relation")  # the first edge is how it was found
        for a in saved.artifacts:
            recorder.artifacts[(a["unit_key"], a["relative_path"])] = ArtifactFinished(
                a["unit_key"], a["relative_path"], a.get("url") or "", a.get("size"),
                a.get("sha256"), a.get("status") or "deferred", a.get("error"),
                a.get("tries") or 0, time=float("nan"),
            )
            if a.get("status") == "downloaded" and a.get("size"):
                recorder.bytes_downloaded += a["size"]
        return recorder

    # -- snapshots ----------------------------------------------------------------

    def to_dataframe(self) -> pd.DataFrame:
        """One row per unit (columns `unit_columns`)."""
        import pandas as pd

        columns = unit_columns()
        deferred = Counter(key for (key, _), a in self.artifacts.items()
                           if a.status == "deferred")
        rows = [record.row(deferred[record.key]) for record in self.units.values()]
        frame = pd.DataFrame.from_records(rows, columns=list(columns))
        for column in ("discovered_at", "finished_at"):
            frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
        return frame.astype(columns)

    def artifacts_dataframe(self) -> pd.DataFrame:
        """One row per artifact (columns `artifact_columns`)."""
        import pandas as pd

        columns = artifact_columns()
        rows = [
            (a.unit_key, a.relative_path, a.url, a.size, a.sha256, a.status, a.verified,
             a.tries, a.error, a.time)
            for a in self.artifacts.values()
        ]
        frame = pd.DataFrame.from_records(rows, columns=list(columns))
        frame["finished_at"] = pd.to_datetime(frame["finished_at"], unit="s", utc=True)
        return frame.astype(columns)

    def depths(self) -> dict[str, int]:
        """The shortest depth found so far for every unit, by key."""
        return {key: record.depth for key, record in self.units.items()}

    def edge_set(self) -> set[tuple[str, str, str | None]]:
        """``(parent, child, relation)`` for every edge found so far."""
        return {(parent, child, relation) for (parent, child), relation in self.edges.items()}

    def graph(self) -> nx.DiGraph:
        """The discovery graph: a node per unit keyed ``"kind:key"``, edges parent -> child."""
        import networkx as nx

        graph = nx.DiGraph()
        for record in self.units.values():
            attributes: dict[str, Any] = {
                "kind": record.kind, "depth": record.depth, "status": record.status,
            }
            if record.size is not None:
                attributes["size"] = record.size
            if record.error:
                attributes["error"] = record.error
            graph.add_node(record.key, **attributes)
        for (parent, child), relation in self.edges.items():
            graph.add_edge(parent, child, relation=relation or "")
        return graph


_HANDLERS: dict[type, Callable[[RunRecorder, Any], None]] = {
    UnitDiscovered: RunRecorder._discovered,
    UnitFinished: RunRecorder._finished,
    ArtifactFinished: RunRecorder._artifact,
    EdgeAdded: RunRecorder._edge_added,
    UnitDepthChanged: RunRecorder._depth_changed,
}


def _epoch(value: Any) -> float:
    """Epoch seconds from a catalog timestamp (float, ISO text or None -> NaN)."""
    if value is None:
        return float("nan")
    if isinstance(value, int | float):
        return float(value)
    from datetime import datetime

    return datetime.fromisoformat(str(value)).timestamp()
