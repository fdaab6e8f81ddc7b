"""What a run does to save per-unit work: collector settings undone, no stat per deferred file."""

from __future__ import annotations

import asyncio
import gc
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import stagekit
from stagekit import Remote
from stagekit.models import Content, DeclarativeArtifact, DeclarativeContent
from stagekit.storage import Store

TIMEOUT = 60
DEAD_URL = "http://127.0.0.1:9/blobs/"  # nothing listens: a fetched deferred file fails


@dataclass(frozen=True, slots=True)
class Blob(Content):
    kind = "test.blob"
    name: str

    def natural_key(self) -> tuple[str]:
        return (self.name,)


class Deferred(Remote):
    """``n`` flat units, each with one deferred artifact."""

    def __init__(self, n: int) -> None:
        self.n = n

    async def roots(self, ctx) -> AsyncIterator[DeclarativeContent]:
        for i in range(self.n):
            name = f"b{i}"
            sha256 = hashlib.sha256(name.encode()).hexdigest()
            yield DeclarativeContent(Blob(name), [DeclarativeArtifact(
                DEAD_URL + name, f"blobs/{name}", digests={"sha256": sha256}, size=10,
                deferred=True)])

    def has_children(self, dc: DeclarativeContent) -> bool:
        return False


async def test_collector_settings_are_restored_after_a_run(tmp_path):
    before = gc.get_threshold()
    async with asyncio.timeout(TIMEOUT):
        run = await stagekit.explore(Deferred(50), store=tmp_path, policy="metadata-only")
    run.store.close()
    assert run.stats["units"] == 50
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


async def test_metadata_only_stats_no_file_for_uncatalogued_deferred_artifacts(
        tmp_path, monkeypatch):
    asked: list[set[str]] = []
    original = Store.missing

    def missing(self, sha256s):
        wanted = set(sha256s)
        asked.append(wanted)
        return original(self, wanted)

    monkeypatch.setattr(Store, "missing", missing)
    async with asyncio.timeout(TIMEOUT):
        run = await stagekit.explore(Deferred(300), store=tmp_path, policy="metadata-only")
    run.store.close()
    assert run.stats["statuses"] == {"deferred": 300}
    assert all(not wanted for wanted in asked)


async def test_metadata_only_still_finds_a_catalogued_deferred_artifact_stored(tmp_path):
    store = Store(tmp_path)
    try:
        payload = b"0123456789"
        sha256 = hashlib.sha256(payload).hexdigest()
        with store.new_temp_file() as temp:
            temp.file.write(payload)
            temp.file.close()
            artifact = store.commit_temp(temp.path, sha256, len(payload))
        store.catalog.save_batch(store.catalog.start_run("setup", {}), contents=[],
                                 artifacts=[artifact], links=[])

        class One(Deferred):
            async def roots(self, ctx) -> AsyncIterator[DeclarativeContent]:
                yield DeclarativeContent(Blob("stored"), [DeclarativeArtifact(
                    DEAD_URL + "stored", "blobs/stored", digests={"sha256": sha256},
                    size=len(payload), deferred=True)])

        async with asyncio.timeout(TIMEOUT):
            run = await stagekit.explore(One(1), store=store, policy="metadata-only")
        assert run.stats["statuses"] == {"existing": 1}
    finally:
        store.close()


def test_what_survives_a_young_collection_in_a_run_is_frozen_until_the_run_ends():
    from stagekit._gc import relaxed_gc

    class Node:
        def __init__(self) -> None:
            self.me = self

    before = gc.get_threshold()
    with relaxed_gc():
        assert gc.get_threshold()[0] > before[0]
        frozen = gc.get_freeze_count()
        cycles = [Node() for _ in range(1000)]
        gc.collect(0)  # survivors of a young collection are frozen: no older one scans them
        assert gc.get_freeze_count() >= frozen + 1000
        assert sum(gc.get_count()[1:]) == 0
        del cycles  # cyclic garbage that survived a collection waits for the run's end
        assert gc.collect(0) == 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert gc.collect() >= 1000  # and is collected as usual after it


async def test_cyclic_garbage_frozen_in_a_run_is_collected_once_the_frozen_set_grows(
        monkeypatch):
    import weakref

    from stagekit import _gc

    class Node:
        def __init__(self) -> None:
            self.me = self

    monkeypatch.setattr(_gc, "FULL_COLLECTION_GROWTH", 1.05)
    with _gc.relaxed_gc():
        frozen = gc.get_freeze_count()
        cycles = [Node() for _ in range(max(1000, frozen // 10))]  # more than 5% of it
        first = weakref.ref(cycles[0])
        gc.collect(0)  # frozen: the set grew past its bound, a full collection is due
        del cycles
        assert first() is not None and gc.get_freeze_count() > 1.05 * frozen
        await asyncio.sleep(0)  # the loop's next turn runs it
        assert first() is None  # the cyclic garbage is gone
        assert gc.get_freeze_count() < 1.05 * frozen
        assert gc.get_threshold()[0] >= _gc.RUN_THRESHOLD0  # and the run stays relaxed
    assert gc.get_freeze_count() == 0


async def test_the_run_records_are_saved_with_the_collector_still_relaxed(
        tmp_path, monkeypatch):
    from stagekit.run import Run

    seen: list[tuple[int, ...]] = []
    original = Run._save_records

    def save_records(self):
        seen.append(gc.get_threshold())
        original(self)

    monkeypatch.setattr(Run, "_save_records", save_records)
    before = gc.get_threshold()
    async with asyncio.timeout(TIMEOUT):
        run = await stagekit.explore(Deferred(20), store=tmp_path, policy="metadata-only")
    run.store.close()
    assert len(seen) == 1 and seen[0][0] > before[0]
    assert gc.get_threshold() == before
