"""The interactive graph's snapshot of a running run, kept up to date by what changed.

Rebuilding the whole snapshot (`graph_snapshot`: a networkx graph, a layout sorting every
layer, the deepest chain, conflicts) costs about 2 s of CPU at 50,000 units, paid on
every refresh and again when the run ends. `LiveSnapshot` reads the run's records
directly and only places the units that are new: a new unit gets, once, a place in its
depth layer at the mean position of its parents one layer up (roots and orphans go to
the end of their layer), and only layers that received units are ranked again. Units
therefore never move sideways while the run grows. What can change for a known unit
(status, size, error, a shorter depth) is read again from its record each time, a loop
over plain attributes.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import compress, islice
from operator import attrgetter
from typing import Any

from stagekit.graphs import conflict_key

__all__ = ["LiveSnapshot"]

_LAST = 2.0  # place of a unit without a parent one layer up: after every placed one
_POM = "maven.pom"
_KEY, _KIND, _DEPTH = attrgetter("key"), attrgetter("kind"), attrgetter("depth")
_STATUS, _SIZE, _ERROR = attrgetter("status"), attrgetter("size"), attrgetter("error")


class LiveSnapshot:
    """Columns of `graph_snapshot` for a `RunRecorder` that only grows (a run's records)."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.index: dict[str, int] = {}
        self.kind: list[int] = []
        self.kinds: dict[str, int] = {}
        self.status: list[int] = []
        self.statuses: dict[str, int] = {}
        self.depth: list[int] = []
        self.size: list[int | None] = []
        self.parents: dict[int, list[int]] = defaultdict(list)  # of units with a parent
        self.src: list[int] = []
        self.dst: list[int] = []
        self.rel: list[int] = []
        self.relations: dict[str, int] = {}
        self._edges_read = 0
        self._pending: list[tuple[str, str, str | None]] = []  # edges to a unit not yet read
        # Per depth, unit indices in their order on screen: by place, then arrival.
        self._layers: dict[int, list[int]] = defaultdict(list)
        self._place: list[float] = []
        self._by_ga: dict[str, list[int]] = defaultdict(list)

    def update(self, records: Any, *, running: bool) -> dict[str, Any]:
        """Read what is new in ``records`` (a `RunRecorder`) and return the snapshot."""
        units = records.units
        first_new = len(self.keys)
        self._add_units(list(islice(units.values(), first_new, None)))
        edges = self._pending + [(p, c, r) for (p, c), r in
                                 islice(records.edges.items(), self._edges_read, None)]
        self._edges_read = len(records.edges)
        self._pending = []
        for parent, child, relation in edges:
            self._add_edge(parent, child, relation)
        # What may change for a known unit, read again: map/compress, no Python per unit.
        everyone = list(units.values())
        named = list(map(_STATUS, everyone))
        statuses = self.statuses
        for name in set(named) - statuses.keys():
            statuses[name] = len(statuses)
        status = list(map(statuses.__getitem__, named))
        size = list(map(_SIZE, everyone))
        errors = list(map(_ERROR, everyone))
        error_nodes = list(compress(range(len(errors)), errors))
        for key in records.depth_changed:
            i = self.index.get(key)
            if i is not None and i < first_new and units[key].depth != self.depth[i]:
                self._move(i, int(units[key].depth or 0))
        self._place_new(first_new)
        clashes = {i: ga for ga, nodes in self._by_ga.items() if len(nodes) > 1 for i in nodes}
        return {
            "keys": list(self.keys), "kind": list(self.kind), "kinds": list(self.kinds),
            "status": status, "statuses": list(statuses), "depth": list(self.depth),
            "size": size, "src": list(self.src), "dst": list(self.dst),
            "rel": list(self.rel), "relations": list(self.relations),
            "path": self._deepest_chain(),
            "conflict_nodes": list(clashes), "conflict_ga": list(clashes.values()),
            "error_nodes": error_nodes, "error_text": [str(errors[i]) for i in error_nodes],
            # The view computes x from the order (no float per unit here).
            "order": {str(d): list(layer) for d, layer in self._layers.items() if layer},
            "layer_sizes": {str(d): len(layer) for d, layer in self._layers.items() if layer},
            "max_size": max(filter(None, size), default=0),
            "total": len(self.keys), "running": running,
        }

    def _add_units(self, new: list[Any]) -> None:
        first = len(self.keys)
        keys = list(map(_KEY, new))
        self.keys += keys
        self.index.update(zip(keys, range(first, first + len(keys)), strict=True))
        kinds = self.kinds
        named = list(map(_KIND, new))
        for name in set(named) - kinds.keys():
            kinds[name] = len(kinds)
        self.kind += map(kinds.__getitem__, named)
        self.depth += map(_DEPTH, new)
        self._place += [_LAST] * len(new)
        if _POM in kinds:  # only Maven POMs can conflict
            for i, (key, kind) in enumerate(zip(keys, named, strict=True), first):
                ga = conflict_key(key, kind) if kind == _POM else None
                if ga is not None:
                    self._by_ga[ga].append(i)

    def _add_edge(self, parent: str, child: str, relation: str | None) -> None:
        a, b = self.index.get(parent), self.index.get(child)
        if a is None or b is None:
            self._pending.append((parent, child, relation))
            return
        self.src.append(a)
        self.dst.append(b)
        self.rel.append(self.relations.setdefault(str(relation or ""), len(self.relations)))
        self.parents[b].append(a)

    def _place_new(self, first_new: int) -> None:
        """Give each new unit its place, layer by layer from the top (parents first).

        A place is the mean relative position of the unit's parents one layer up when it
        arrives; units keep it, so a layer is sorted (stably) by place then arrival.
        """
        by_depth: dict[int, list[int]] = defaultdict(list)
        depth, parents, place = self.depth, self.parents, self._place
        new_depths = set(depth[first_new:])
        if len(new_depths) == 1:  # all in one layer (a flat remote): no loop
            by_depth[new_depths.pop()] = list(range(first_new, len(self.keys)))
        else:
            for i in range(first_new, len(self.keys)):
                by_depth[depth[i]].append(i)
        for d in sorted(by_depth):
            new = by_depth[d]
            linked = [i for i in new if i in parents]
            if linked:
                above = self._layers.get(d - 1, [])
                step = 1 / max(1, len(above))
                rank = {i: p * step for p, i in enumerate(above)}
                for i in linked:
                    xs = [rank[p] for p in parents[i] if p in rank]
                    if xs:
                        place[i] = sum(xs) / len(xs)
            layer = self._layers[d]
            layer += new
            layer.sort(key=place.__getitem__)  # stable, and the old part is in order

    def _move(self, i: int, depth: int) -> None:
        """A unit found again at a shorter depth: out of its layer, into the new one."""
        self._layers[self.depth[i]].remove(i)
        self.depth[i] = depth
        layer = self._layers[depth]
        layer.append(i)
        layer.sort(key=self._place.__getitem__)

    def _deepest_chain(self) -> list[int]:
        """As `stagekit.graphs.critical_path`: deepest unit (smallest key), parents upward."""
        layers = [d for d, layer in self._layers.items() if layer]
        if not layers:
            return []
        keys, depth = self.keys, self.depth
        node = min(self._layers[max(layers)], key=keys.__getitem__)
        path = [node]
        while depth[node] > 0:
            up = [p for p in self.parents.get(node, ()) if depth[p] == depth[node] - 1]
            if not up:
                break
            node = min(up, key=keys.__getitem__)
            path.append(node)
        path.reverse()
        return path
