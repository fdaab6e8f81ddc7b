"""The live graph's incremental snapshot says what a full one says, and units do not jump."""

from __future__ import annotations

import json
from array import array

from stagekit.events import EdgeAdded, UnitDepthChanged, UnitDiscovered, UnitFinished
from stagekit.notebook.live_snapshot import LiveSnapshot
from stagekit.notebook.payload import INT_COLUMNS, encode
from stagekit.notebook.snapshot import graph_snapshot
from stagekit.records import RunRecorder


def found(key: str, depth: int, parent: str | None = None, kind: str = "demo.pom"):
    return UnitDiscovered(key, kind, depth, parent, "dependency" if parent else None)


BATCHES = [
    [found("demo.pom:a", 0), found("demo.pom:b", 1, "demo.pom:a"),
     found("demo.pom:c", 1, "demo.pom:a"), found("demo.pom:d", 2, "demo.pom:c"),
     found("demo.pom:e", 2, "demo.pom:b"), UnitFinished("demo.pom:a", "downloaded", size=10)],
    [found("maven.pom:g:x:1", 2, "demo.pom:b", "maven.pom"),
     found("maven.pom:g:x:2", 3, "demo.pom:d", "maven.pom"),
     found("demo.pom:f", 1, "demo.pom:a"), EdgeAdded("demo.pom:f", "demo.pom:d", "parent"),
     UnitFinished("demo.pom:e", "failed", error="HTTP 404")],
    [found("demo.pom:z", 0), EdgeAdded("demo.pom:z", "maven.pom:g:x:2", "dependency"),
     UnitDepthChanged("maven.pom:g:x:2", 1), found("demo.pom:y", 2, "maven.pom:g:x:2"),
     UnitFinished("demo.pom:d", "downloaded", size=5)],
]


def named(snap: dict, column: str, names: str) -> list:
    return [snap[names][v] for v in snap[column]]


def layer_orders(snap: dict) -> dict[int, list[str]]:
    return {int(d): [snap["keys"][i] for i in ids] for d, ids in snap["order"].items()}


def test_live_snapshot_says_what_a_full_one_says_after_each_batch():
    records, live = RunRecorder(), LiveSnapshot()
    seen: dict[int, list[str]] = {}
    for batch in BATCHES:
        for event in batch:
            records(event)
        snap = live.update(records, running=True)
        full = graph_snapshot(records.graph())
        assert snap["keys"] == full["keys"]
        for column, names in (("kind", "kinds"), ("status", "statuses")):
            assert named(snap, column, names) == named(full, column, names)
        assert snap["depth"] == full["depth"] and snap["size"] == full["size"]

        def edges(s: dict) -> set[tuple[str, str, str]]:
            return {(s["keys"][a], s["keys"][b], s["relations"][r])
                    for a, b, r in zip(s["src"], s["dst"], s["rel"], strict=True)}

        assert edges(snap) == edges(full)
        assert snap["path"] == full["path"]
        assert (dict(zip(snap["conflict_nodes"], snap["conflict_ga"], strict=True))
                == dict(zip(full["conflict_nodes"], full["conflict_ga"], strict=True)))
        assert snap["error_nodes"] == full["error_nodes"]
        assert snap["error_text"] == full["error_text"]
        # Every unit once in the layer of its depth; earlier units keep their order.
        orders = layer_orders(snap)
        assert sorted(i for ids in snap["order"].values() for i in ids) == list(
            range(len(snap["keys"])))
        for d, keys in orders.items():
            assert all(snap["depth"][snap["keys"].index(k)] == d for k in keys)
            before = [k for k in keys if k in seen.get(d, [])]
            assert before == [k for k in seen.get(d, []) if k in keys]
        seen = orders
    # A child sits under its parent: e (of b) before d (of c) since b came before c.
    assert orders[2].index("demo.pom:e") < orders[2].index("demo.pom:d")
    assert snap["conflict_ga"] == ["g:x", "g:x"]
    # Deepest chain: the smallest key at depth 2, then its smallest parent one layer up.
    assert [snap["keys"][i] for i in snap["path"]] == ["demo.pom:a", "demo.pom:c", "demo.pom:d"]
    # The unit found again nearer the root moved to its new layer.
    assert "maven.pom:g:x:2" in orders[1]


def test_payload_holds_the_columns_as_buffers():
    records = RunRecorder()
    for batch in BATCHES:
        for event in batch:
            records(event)
    snap = LiveSnapshot().update(records, running=False)
    payload = encode(snap)
    assert all(isinstance(v, bytes) for v in payload.values())
    for name in INT_COLUMNS:
        assert array("i", payload[name]).tolist() == list(snap[name])
    sizes = array("d", payload["size"]).tolist()
    assert [None if s != s else int(s) for s in sizes] == snap["size"]
    assert json.loads(payload["keys"]) == snap["keys"]
    meta = json.loads(payload["meta"])
    flat = array("i", payload["order"]).tolist()
    at = 0
    for depth, count in meta["order_layers"]:
        assert flat[at:at + count] == snap["order"][str(depth)]
        at += count
    assert meta["statuses"] == snap["statuses"] and "keys" not in meta
