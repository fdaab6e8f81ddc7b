"""Units recorded in bulk (a `KnownBlock`) give the run the answers that the same units
recorded one event at a time give, whenever the records are read."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pytest

from stagekit.events import (
    ArtifactFinished,
    EdgeAdded,
    Event,
    EventBus,
    KnownBlock,
    KnownUnitsFinished,
    KnownUnitsFound,
    UnitDepthChanged,
    UnitDiscovered,
    UnitFinished,
)
from stagekit.records import RunRecorder

PARENT = "index:1"
# key -> (status, size, artifacts as (path, sha256, size, status))
UNITS: dict[str, tuple[str, int, list[tuple[str, str, int, str]]]] = {
    "pkg:a": ("deferred", 0, [("a.deb", "a" * 64, 10, "deferred")]),
    "pkg:b": ("existing", 20, [("b.deb", "b" * 64, 20, "existing")]),
    "pkg:c": ("existing", 0, []),
}


def rows() -> tuple[dict[str, tuple[Any, ...]], list[tuple[Any, ...]]]:
    """What the catalog holds for the block's units once they are copied."""
    units = {key: (status, None, size, len(arts)) for key, (status, size, arts) in UNITS.items()}
    artifacts = [(key, path, f"http://x/{path}", sha, size, status, None, 0)
                 for key, (_, _, arts) in UNITS.items() for path, sha, size, status in arts]
    return units, artifacts


class Loader:
    """`KnownBlock.load`, counting its calls; before the copy nothing is in the run."""

    def __init__(self) -> None:
        self.calls = 0
        self.copied = False

    def __call__(self) -> tuple[dict[str, tuple[Any, ...]], list[tuple[Any, ...]]]:
        self.calls += 1
        if not self.copied:
            return {key: (None, None, None, len(arts)) for key, (_, _, arts) in UNITS.items()}, []
        return rows()


def eager_events() -> list[Event]:
    """The events a run emitted per unit before blocks (and emits on the parsing path)."""
    events: list[Event] = [UnitDiscovered(PARENT, "index", 1, None, None, 1, ("1",), time=1.0)]
    for key, (_, _, arts) in UNITS.items():
        events.append(UnitDiscovered(key, "pkg", 2, PARENT, "package", len(arts),
                                     (key[4:],), time=1.0))
    return events


def finish_events() -> list[Event]:
    events: list[Event] = []
    for key, (status, size, arts) in UNITS.items():
        for path, sha, a_size, a_status in arts:
            events.append(ArtifactFinished(key, path, f"http://x/{path}", a_size, sha,
                                           a_status, None, 0, True, 2.0))
        events.append(UnitFinished(key, status, None, size, 2.0))
    return events


# Found again through another parent, one of them by a shorter path, while in the block.
LATER: list[Event] = [
    UnitDiscovered("other:1", "index", 0, None, None, 0, ("o",), time=1.0),
    EdgeAdded("other:1", "pkg:b", "package"),
    UnitDepthChanged("pkg:b", 1),
]


def answers(records: RunRecorder) -> dict[str, Any]:
    """What a user reads of the records; the lazy parts first, before any row is read."""
    early = {"count": records.unit_count, "depths": records.depths(),
             "edges": records.edge_set(), "statuses": +records.status_counts,
             "by_depth": +records.depth_counts}
    frame = (records.to_dataframe().drop(columns=["discovered_at", "finished_at", "seconds"])
             .sort_values("key").reset_index(drop=True))
    artifacts = (records.artifacts_dataframe().drop(columns=["finished_at"])
                 .sort_values(["unit_key", "relative_path"]).reset_index(drop=True))
    saved = sorted((r.key, r.status, r.depth) for r in records.to_save())
    return {**early, "frame": frame, "artifacts": artifacts, "saved": saved,
            "graph_nodes": sorted(records.graph().nodes(data=True), key=lambda n: n[0]),
            "depth_changed": sorted(records.depth_changed)}


def same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        if isinstance(a[name], pd.DataFrame):
            pd.testing.assert_frame_equal(a[name], b[name])
        else:
            assert a[name] == b[name], name


def block(loader: Loader) -> KnownBlock:
    keys = list(UNITS)
    return KnownBlock(PARENT, "package", "pkg", 2, keys, [(k[4:],) for k in keys], loader,
                      discovered_at=1.0)


@pytest.mark.parametrize("read_between", [False, True])
def test_a_block_gives_the_answers_of_the_same_units_event_by_event(read_between: bool) -> None:
    eager = RunRecorder()
    for event in [*eager_events(), *LATER, *finish_events()]:
        eager(event)

    lazy, loader = RunRecorder(), Loader()
    lazy(eager_events()[0])
    known = block(loader)
    lazy(KnownUnitsFound(known))
    for event in LATER:
        lazy(event)
    assert lazy.unit_count == 5 and lazy.status_counts["discovered"] == 5
    if read_between:  # a live view reads the rows before they are copied
        assert lazy.units["pkg:a"].status == "discovered"
    loader.copied = True
    known.statuses, known.finished_at = {"deferred": 1, "existing": 2}, 2.0
    lazy(KnownUnitsFinished(known))
    assert loader.calls == (2 if read_between else 0)  # nothing read until asked

    same(answers(lazy), answers(eager))
    assert answers(lazy)["frame"].set_index("key").loc["pkg:b", "parents"] == 2


def test_a_block_never_copied_is_saved_as_discovered_like_its_units() -> None:
    eager = RunRecorder()
    for event in [*eager_events(), *LATER]:
        eager(event)
    lazy, loader = RunRecorder(), Loader()
    lazy(eager_events()[0])
    lazy(KnownUnitsFound(block(loader)))
    for event in LATER:
        lazy(event)
    assert sorted((r.key, r.status, r.depth) for r in lazy.to_save()) == sorted(
        (r.key, r.status, r.depth) for r in eager.to_save())
    assert loader.calls == 1


def test_cli_progress_counts_a_block_as_its_units() -> None:
    from stagekit.cli.progress import Progress

    class Source:  # what Progress reads of a run
        def __init__(self) -> None:
            self.events = EventBus()

    def counted(events: list[Event]) -> tuple[Any, ...]:
        source = Source()
        progress = Progress(source, io.StringIO())  # type: ignore[arg-type]
        for event in events:
            source.events.emit(event)
        return +progress.found, +progress.done, +progress.failed

    loader = Loader()
    known = block(loader)
    found = counted([eager_events()[0], KnownUnitsFound(known)])
    assert found == counted(eager_events())
    known.statuses, known.finished_at = {"deferred": 1, "existing": 2}, 2.0
    done = counted([eager_events()[0], KnownUnitsFound(known), KnownUnitsFinished(known)])
    assert done == counted([*eager_events(), *finish_events()])
    assert done[1] == {"pkg": 3} and loader.calls == 0
