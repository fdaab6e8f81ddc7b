"""A first metadata-only run records an index's packages in bulk (`stagekit.leaves`), with
the results (records, DataFrames, catalog rows) of a run sending each through the stages."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import stagekit
from stagekit.context import RunContext
from stagekit.events import KnownUnitsFound, UnitDiscovered
from stagekit.models import DeclarativeContent
from stagekit.remotes.deb import DebRemote
from stagekit.storage import Store
from stagekit.testing import serve
from stagekit.testing.debian import make_deb_repo
from tests.backends import Backend
from tests.remotes.test_deb_known import FAST, TIMEOUT, results


async def explore(url: str, store: Store, policy: str, **options: Any) -> stagekit.Run:
    async with asyncio.timeout(TIMEOUT):
        return await stagekit.explore(DebRemote(url, "stable", **options), store=store,
                                      download_config=FAST, policy=policy)


class Bulk:
    """Whether runs may record leaves in bulk, and how many units each way took."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.enabled = True
        self.recorded = 0
        self.handed_back = 0
        real = RunContext.record_leaves

        async def record_leaves(ctx: RunContext, parent: DeclarativeContent,
                                leaves: Sequence[DeclarativeContent]) -> Any:
            rest = await real(ctx, parent, leaves) if self.enabled else list(leaves)
            self.recorded += len(leaves) - len(rest)
            self.handed_back += len(rest)
            return rest

        monkeypatch.setattr(RunContext, "record_leaves", record_leaves)


@pytest.fixture
def bulk(monkeypatch: pytest.MonkeyPatch) -> Bulk:
    return Bulk(monkeypatch)


async def test_a_first_run_records_packages_in_bulk_with_the_results_of_the_stages(
        tmp_path: Path, backend: Backend, bulk: Bulk, request: pytest.FixtureRequest) -> None:
    catalogs = [backend.spec, backend.spec]
    if backend.spec is not None:  # each run a fresh catalog: a second would re-sync
        catalogs[1] = request.getfixturevalue("pg_server").create_database("test_leaves_2")
    # Every 5th package is Architecture: all, in both architectures' indexes: found twice.
    repo = make_deb_repo(packages=40, expected_release="InRelease", seed=41)
    runs = {}
    async with serve(repo) as server:
        for enabled in (False, True):
            bulk.enabled = enabled
            bulk.recorded = bulk.handed_back = 0
            store = Store(tmp_path / f"store-{enabled}", catalog=catalogs[enabled])
            events: list[Any] = []
            run = stagekit.Run(DebRemote(server.url, "stable"), store=store,
                               policy="metadata-only", download_config=FAST)
            run.events.subscribe(events.append)
            async with asyncio.timeout(TIMEOUT):
                await run
            runs[enabled] = run, events
    (staged, staged_events), (recorded, recorded_events) = runs[False], runs[True]
    packages = len(repo.expected.units) - 5
    assert bulk.recorded == 4 * 40 and bulk.handed_back == 0  # an arch-all one twice
    assert sum(isinstance(e, KnownUnitsFound) for e in recorded_events) == 4
    assert sum(isinstance(e, UnitDiscovered) for e in recorded_events) == 5
    assert sum(isinstance(e, UnitDiscovered) for e in staged_events) == 5 + packages
    assert recorded.stats["statuses"] == {"downloaded": 5, "deferred": packages}
    same = ("units", "statuses", "depths", "bytes", "errors", "status")
    assert {k: recorded.stats[k] for k in same} == {k: staged.stats[k] for k in same}
    assert recorded.errors == [] and recorded.depths() == repo.expected.depths()
    assert recorded.records.edge_set() == repo.expected.edges
    assert results(recorded) == results(staged)
    for run in (staged, recorded):
        run.store.close()


async def test_a_package_whose_deb_the_catalog_knows_goes_through_the_stages(
        tmp_path: Path, bulk: Bulk) -> None:
    repo = make_deb_repo(packages=6, components=["main"], architectures=["amd64"], seed=42)
    name = repo.packages[("main", "amd64")][0].name
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        # A filtered run is another remote: the next run parses the index again.
        await explore(server.url, store, "immediate", packages=[name])
        bulk.recorded = bulk.handed_back = 0
        run = await explore(server.url, store, "metadata-only")
    statuses = run.to_dataframe().set_index("key")["status"]
    held = [key for key, status in statuses.items() if key.startswith("deb.package:")
            and status == "existing"]
    assert [key.split(":")[1] for key in held] == [name]  # its .deb is in the store
    assert bulk.handed_back == 1 and bulk.recorded == 5
    assert run.errors == [] and run.depths() == repo.expected.depths()
    store.close()


async def test_an_immediate_run_sends_every_package_through_the_stages(
        tmp_path: Path, bulk: Bulk) -> None:
    repo = make_deb_repo(packages=4, components=["main"], architectures=["amd64"], seed=43)
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        run = await explore(server.url, store, "immediate")
    assert bulk.recorded == 0 and bulk.handed_back == 4
    assert run.stats["statuses"] == {"downloaded": 6}
    store.close()
