"""What a run found, kept compactly and turned into a graph or DataFrames on demand.

`RunRecorder` subscribes to a pipeline's events. Every read (`to_dataframe`,
`artifacts_dataframe`, `graph`) builds a fresh object from the records in one go on
the loop's thread, so it is a consistent snapshot even while the run goes on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from stagekit.events import (
    ArtifactFinished,
    EdgeAdded,
    Event,
    KnownBlock,
    KnownUnitsFinished,
    KnownUnitsFound,
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


class RunRecorder:
    """Units, edges and artifacts of one run, fed by events.

    Units recorded in bulk from an earlier run (`stagekit.events.KnownBlock`) are kept as
    blocks and counted at once; ``units``, ``edges`` and ``artifacts`` read their rows
    from the catalog the first time one of them is asked for (`depths`, `edge_set` and
    the counts need no rows).
    """

    __slots__ = ("_artifacts", "_block_index", "_edges", "_lazy_edges", "_pending", "_units",
                 "bytes_downloaded", "depth_changed", "depth_counts", "status_counts")

    def __init__(self) -> None:
        self._units: dict[str, UnitRecord] = {}
        self._edges: dict[tuple[str, str], str | None] = {}
        self._artifacts: dict[tuple[str, str], ArtifactFinished] = {}
        self.bytes_downloaded = 0
        self.status_counts: Counter[str] = Counter()
        self.depth_counts: Counter[int] = Counter()
        #: Units whose depth went down after they were found (the catalog may hold the old one).
        self.depth_changed: set[str] = set()
        self._pending: list[KnownBlock] = []  # blocks whose rows were not read yet
        self._block_index: dict[str, KnownBlock] | None = None  # their keys, when needed
        self._lazy_edges: list[tuple[str, str]] = []  # edges to a unit of such a block

    @property
    def units(self) -> dict[str, UnitRecord]:
        """Every unit's record, by key."""
        if self._pending:
            self._read_blocks()
        return self._units

    @property
    def edges(self) -> dict[tuple[str, str], str | None]:
        """``{(parent, child): relation}`` for every edge."""
        if self._pending:
            self._read_blocks()
        return self._edges

    @property
    def artifacts(self) -> dict[tuple[str, str], ArtifactFinished]:
        """The last event of every artifact, by ``(unit key, relative path)``."""
        if self._pending:
            self._read_blocks()
        return self._artifacts

    @property
    def unit_count(self) -> int:
        """How many units were found (without reading any block's rows)."""
        return len(self._units) + sum(len(block.keys) for block in self._pending)

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
        self._artifacts[(event.unit_key, event.relative_path)] = event
        if event.status == "downloaded" and event.size:
            self.bytes_downloaded += event.size

    def _edge_added(self, event: EdgeAdded) -> None:
        self._edge(event.parent, event.child, event.relation)

    def _depth_changed(self, event: UnitDepthChanged) -> None:
        record = self._units.get(event.key)
        if record is not None:
            self.depth_counts[record.depth] -= 1
            self.depth_counts[event.depth] += 1
            record.depth = event.depth
            self.depth_changed.add(event.key)
            return
        block = self._block_of(event.key)
        if block is not None:
            self.depth_counts[block.depths.get(event.key, block.depth)] -= 1
            self.depth_counts[event.depth] += 1
            block.depths[event.key] = event.depth
            self.depth_changed.add(event.key)

    def _block_of(self, key: str) -> KnownBlock | None:
        """The pending block holding ``key``, if any (rare: a block's unit reached again)."""
        if not self._pending:
            return None
        if self._block_index is None:
            self._block_index = {k: block for block in self._pending for k in block.keys}
        return self._block_index.get(key)

    def _discovered(self, event: UnitDiscovered) -> None:
        if event.key in self._units:
            return
        self._units[event.key] = UnitRecord(
            event.key, event.kind, event.depth, event.relation, event.n_artifacts, event.time,
            event.natural_key,
        )
        self.status_counts["discovered"] += 1
        self.depth_counts[event.depth] += 1
        if event.parent is not None:
            self._edge(event.parent, event.key, event.relation)

    def _edge(self, parent: str, child: str, relation: str | None) -> None:
        if (parent, child) in self._edges:
            return
        self._edges[(parent, child)] = relation
        record = self._units.get(child)
        if record is not None:
            record.parents += 1
        elif self._pending:
            self._lazy_edges.append((parent, child))  # counted if a block holds the child

    def _finished(self, event: UnitFinished) -> None:
        record = self._units.get(event.key)
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

    def _known_found(self, event: KnownUnitsFound) -> None:
        block = event.block
        self._pending.append(block)
        self._block_index = None
        self.status_counts["discovered"] += len(block.keys)
        self.depth_counts[block.depth] += len(block.keys)

    def _known_finished(self, event: KnownUnitsFinished) -> None:
        block = event.block
        if block in self._pending:
            self.status_counts["discovered"] -= sum(block.statuses.values())
            self.status_counts.update(block.statuses)
            return
        # Its rows were read before they were copied: read them again.
        rows = block.load()
        for key in block.keys:
            status, error, size, _n = rows[0].get(key) or (None, None, None, 0)
            if status is not None:
                self._finished(UnitFinished(key, status, error, size, block.finished_at or 0.0))
        self._read_artifacts([block], {block.load: rows})

    def _read_blocks(self) -> None:
        """Turn the pending blocks into records, reading their rows from the catalog."""
        blocks, self._pending, self._block_index = self._pending, [], None
        lazy, self._lazy_edges = self._lazy_edges, []
        loaded: dict[Any, tuple[dict[str, tuple[Any, ...]], list[tuple[Any, ...]]]] = {}
        read: set[str] = set()
        for block in blocks:
            read.update(block.keys)
            source = block.load  # blocks of one parent share their loader: read once
            rows = loaded.get(source)
            if rows is None:
                rows = loaded[source] = source()
            units = rows[0]
            finished = block.finished_at
            depths = block.depths
            for key, natural_key in zip(block.keys, block.natural_keys, strict=True):
                status, error, size, n_artifacts = units.get(key) or (None, None, None, 0)
                if finished is None or status is None:
                    status, error, size, finished_at = "discovered", None, None, None
                else:
                    finished_at = finished
                self._units[key] = UnitRecord(
                    key, block.kind, depths.get(key, block.depth), block.relation, n_artifacts,
                    block.discovered_at, natural_key, 0, status, error, size, finished_at)
                self._edge(block.parent, key, block.relation)
        for _parent, child in lazy:
            if child in read:
                self._units[child].parents += 1
        self._read_artifacts([b for b in blocks if b.finished_at is not None], loaded)

    def _read_artifacts(self, blocks: list[KnownBlock], loaded: dict[Any, Any] | None = None
                        ) -> None:
        """Record the artifacts of finished ``blocks`` from the catalog's rows."""
        loaded = {} if loaded is None else loaded
        done: set[Any] = set()
        for block in blocks:
            source = block.load
            if source in done:
                continue
            done.add(source)
            rows = loaded.get(source)
            if rows is None:
                rows = loaded[source] = source()
            keys = {key for b in blocks if b.load == source for key in b.keys}
            when = block.finished_at or 0.0
            for key, path, url, sha256, size, status, error, tries in rows[1]:
                if key in keys:
                    self._artifacts[(key, path)] = ArtifactFinished(
                        key, path, url or "", size, sha256, status, error, tries or 0, True,
                        when)

    def failed(self) -> list[UnitRecord]:
        """The records of the failed units (a block's units never failed)."""
        return [r for r in self._units.values() if r.status == "failed"]

    def to_save(self) -> list[UnitRecord]:
        """Records whose rows the run writes when it ends: failed or never finished
        units, and those whose depth changed; a block's rows are in the catalog already,
        unless they were never copied or a depth changed (then they are read)."""
        if any(b.finished_at is None or b.depths for b in self._pending):
            self._read_blocks()
        return [r for r in self._units.values()
                if r.status in ("failed", "discovered") or r.key in self.depth_changed]

    def eager_edges(self) -> dict[tuple[str, str], str | None]:
        """The edges held as records (a pending block's are in the catalog already)."""
        return self._edges

    def eager_artifacts(self) -> dict[tuple[str, str], ArtifactFinished]:
        """The artifacts held as records (a pending block's are in the catalog already)."""
        return self._artifacts

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
            recorder._units[key] = record
            recorder.status_counts[record.status] += 1
            recorder.depth_counts[record.depth] += 1
        for edge in saved.edges:
            recorder._edge(edge["parent"], edge["child"], edge.get("relation"))
            child = recorder._units.get(edge["child"])
            if child is not None and child.relation is None:
                child.relation = edge.get("relation")  # the first edge is how it was found
        for a in saved.artifacts:
            recorder._artifacts[(a["unit_key"], a["relative_path"])] = ArtifactFinished(
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
        depths = {key: record.depth for key, record in self._units.items()}
        for block in self._pending:
            depths.update(dict.fromkeys(block.keys, block.depth))
            depths.update(block.depths)
        return depths

    def edge_set(self) -> set[tuple[str, str, str | None]]:
        """``(parent, child, relation)`` for every edge found so far."""
        edges = {(parent, child, relation) for (parent, child), relation in self._edges.items()}
        for block in self._pending:
            edges.update((block.parent, key, block.relation) for key in block.keys)
        return edges

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
    KnownUnitsFound: RunRecorder._known_found,
    KnownUnitsFinished: RunRecorder._known_finished,
}


def _epoch(value: Any) -> float:
    """Epoch seconds from a catalog timestamp (float, ISO text or None -> NaN)."""
    if value is None:
        return float("nan")
    if isinstance(value, int | float):
        return float(value)
    from datetime import datetime

    return datetime.fromisoformat(str(value)).timestamp()
