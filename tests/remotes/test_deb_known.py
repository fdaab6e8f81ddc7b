"""A Debian re-sync records an unchanged index's packages from the catalog in bulk, with
the same run results (records, DataFrames, catalog rows) as a re-sync that parses it."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

import stagekit
import stagekit.remotes.deb
from stagekit.download import DownloadConfig
from stagekit.remotes.deb import DebRemote
from stagekit.storage import Store
from stagekit.testing import serve
from stagekit.testing.debian import make_deb_repo
from tests.backends import Backend

TIMEOUT = 60
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.02, read_timeout=5.0)


async def explore(url: str, store: Store, policy: str) -> stagekit.Run:
    async with asyncio.timeout(TIMEOUT):
        return await stagekit.explore(DebRemote(url, "stable"), store=store,
                                      download_config=FAST, policy=policy)


class Paths:
    """Which way each run took for its indexes: parsed, declared one by one, or bulk."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.parsed: list[str] = []
        self.declared: list[str] = []
        self.bulk: list[str] = []
        self.force_parse = False
        deb = stagekit.remotes.deb
        reader, declare, record = deb.PackagesReader, deb.known_packages, deb.record_known_packages

        def reading(path: Any, name: str, *args: Any, **kwargs: Any) -> Any:
            self.parsed.append(name)
            return reader(path, name, *args, **kwargs)

        async def declaring(ctx: Any, key: str, *args: Any) -> Any:
            found = None if self.force_parse else await declare(ctx, key, *args)
            if found is not None:
                self.declared.append(key)
            return found

        async def recording(ctx: Any, dc: Any, *args: Any) -> bool:
            done = not self.force_parse and await record(ctx, dc, *args)
            if done:
                self.bulk.append(dc.key)
            return done

        monkeypatch.setattr(deb, "PackagesReader", reading)
        monkeypatch.setattr(deb, "known_packages", declaring)
        monkeypatch.setattr(deb, "record_known_packages", recording)

    def clear(self) -> None:
        self.parsed.clear()
        self.declared.clear()
        self.bulk.clear()


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> Paths:
    return Paths(monkeypatch)


def results(run: stagekit.Run) -> dict[str, Any]:
    """What a user reads of a run (times and row ids left out), and its catalog rows.

    What needs no unit's row (counts, depths, edges) is read first: a bulk re-sync
    answers it from its blocks, before reading any row back from the catalog."""
    lazy = {"edges": run.records.edge_set(), "depths": run.depths(),
            "statuses": run.stats["statuses"], "units_count": run.stats["units"],
            "by_depth": run.stats["depths"], "bytes": run.stats["bytes"]}
    units = (run.to_dataframe().drop(columns=["discovered_at", "finished_at", "seconds"])
             .sort_values("key").reset_index(drop=True))
    artifacts = (run.artifacts_dataframe().drop(columns=["finished_at"])
                 .sort_values(["unit_key", "relative_path"]).reset_index(drop=True))
    saved = run.store.catalog.load_run(run.run_id)
    untimed = {"started_at", "finished_at"}
    return {
        **lazy,
        "units": units.to_dict("records"),
        "artifacts": artifacts.to_dict("records"),
        "read_edges": run.records.edge_set(),
        "read_depths": run.depths(),
        "graph": sorted(run.graph.nodes(data=True), key=lambda node: node[0]),
        "catalog_units": sorted(sorted((k, repr(v)) for k, v in u.items() if k not in untimed)
                                 for u in saved.units),
        "catalog_artifacts": sorted(sorted((k, repr(v)) for k, v in a.items())
                                    for a in saved.artifacts),
        "catalog_edges": sorted(tuple(sorted(e.items())) for e in saved.edges),
    }


def count_block_reads(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The parents whose known units the run reads back from the catalog, in order."""
    reads: list[str] = []
    real = type(store.catalog).known_block_rows

    def reading(self: Any, run_id: int, source: int, parent: str, *args: Any) -> Any:
        reads.append(parent)
        return real(self, run_id, source, parent, *args)

    monkeypatch.setattr(type(store.catalog), "known_block_rows", reading)
    return reads


@pytest.mark.parametrize(("first", "again"), [
    ("metadata-only", "metadata-only"),  # packages deferred
    ("immediate", "metadata-only"),      # .deb files stored: packages existing
    ("immediate", "immediate"),
])
async def test_bulk_resync_gives_the_results_of_a_parsing_resync(
        tmp_path: Path, paths: Paths, backend: Backend, first: str, again: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_deb_repo(packages=8, expected_release="InRelease", seed=31)
    store = backend.store(tmp_path / "store")
    async with serve(repo) as server:
        await explore(server.url, store, first)
        paths.clear()
        paths.force_parse = True
        parsing = await explore(server.url, store, again)
        assert len(paths.parsed) == 4 and paths.bulk == []
        paths.clear()
        paths.force_parse = False
        server.counters.reset()
        reads = count_block_reads(store, monkeypatch)
        bulk = await explore(server.url, store, again)
        assert set(server.counters.by_path) == {"dists/stable/InRelease"}
    assert paths.parsed == [] and paths.declared == []
    # Nothing read back per unit: the counts, depths and edges come from the blocks.
    assert bulk.depths() == parsing.depths() and reads == []
    assert bulk.records.edge_set() == parsing.records.edge_set() and reads == []
    assert sorted(paths.bulk) == sorted(f"deb.packages:{c}:{a}" for c in ("main", "contrib")
                                        for a in ("amd64", "arm64"))
    packages = len(repo.expected.units) - 5  # the release and 4 indexes: existing
    assert bulk.stats["statuses"] == ({"existing": 5, "deferred": packages}
                                      if first == "metadata-only" else {"existing": 5 + packages})
    assert bulk.errors == [] and bulk.depths() == repo.expected.depths()
    assert bulk.records.edge_set() == repo.expected.edges
    assert results(bulk) == results(parsing)
    assert len(reads) == 4  # then each index's units once, when the frame was asked for
    store.close()


async def test_a_resync_that_must_download_declares_the_packages_instead(
        tmp_path: Path, paths: Paths) -> None:
    repo = make_deb_repo(packages=4, components=["main"], architectures=["amd64"], seed=32)
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        await explore(server.url, store, "metadata-only")
        paths.clear()
        run = await explore(server.url, store, "immediate")  # the .deb files are not stored
    assert paths.bulk == [] and paths.parsed == []
    assert paths.declared == ["deb.packages:main:amd64"]
    packages = [k for k in run.depths() if k.startswith("deb.package:")]
    assert len(packages) == 4
    assert run.stats["statuses"]["downloaded"] == 4  # the .deb files, now fetched
    store.close()


async def test_a_changed_index_is_parsed_and_the_others_recorded_in_bulk(
        tmp_path: Path, paths: Paths) -> None:
    repo = make_deb_repo(packages=8, expected_release="InRelease", seed=33)
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        await explore(server.url, store, "metadata-only")
        name = next(p.name for p in repo.packages[("main", "amd64")]
                    if p.architecture == "amd64")
        old = next(p for p in repo.packages[("main", "amd64")] if p.name == name)
        new = repo.upgrade("main", "amd64", name, "99.0")
        paths.clear()
        run = await explore(server.url, store, "metadata-only")
    assert paths.parsed == ["dists/stable/main/binary-amd64/Packages.xz"]
    assert sorted(paths.bulk) == ["deb.packages:contrib:amd64", "deb.packages:contrib:arm64",
                                  "deb.packages:main:arm64"]
    assert run.errors == [] and run.depths() == repo.expected.depths()
    assert run.records.edge_set() == repo.expected.edges
    assert new.key in run.depths() and old.key not in run.depths()
    assert run.to_dataframe().set_index("key").loc[new.key, "status"] == "deferred"
    store.close()


async def test_a_pipeline_without_a_catalog_run_declares_the_packages(
        tmp_path: Path, paths: Paths) -> None:
    repo = make_deb_repo(packages=4, components=["main"], architectures=["amd64"], seed=34)
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        await explore(server.url, store, "metadata-only")
        paths.clear()
        stages = stagekit.default_stages(DebRemote(server.url, "stable"), store,
                                         "metadata-only")  # no run_id: nothing to copy into
        async with asyncio.timeout(TIMEOUT):
            await stagekit.create_pipeline(stages)
    assert paths.bulk == [] and paths.parsed == []
    assert paths.declared == ["deb.packages:main:amd64"]
    store.close()


async def test_a_resync_cancelled_while_recording_reports_what_reached_the_catalog(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_deb_repo(packages=40, components=["main"], architectures=["amd64"], seed=35)
    store = Store(tmp_path / "store")
    entered, release = asyncio.Event(), threading.Event()
    loop = asyncio.get_running_loop()
    real = type(store.catalog).copy_known_units

    def held(self: Any, *args: Any) -> None:
        loop.call_soon_threadsafe(entered.set)
        release.wait(TIMEOUT)
        real(self, *args)

    async with serve(repo) as server:
        await explore(server.url, store, "metadata-only")
        monkeypatch.setattr(type(store.catalog), "copy_known_units", held)
        async with asyncio.timeout(TIMEOUT):
            run = stagekit.start(DebRemote(server.url, "stable"), store=store,
                                 download_config=FAST, policy="metadata-only")
            await entered.wait()
            assert run.cancel()
            release.set()  # the copy goes on in its thread, and commits
            with pytest.raises(asyncio.CancelledError):
                await run
    assert run.status == "cancelled"
    saved = {u["key"]: u["status"] for u in store.catalog.load_run(run.run_id).units}
    reported = run.to_dataframe().set_index("key")["status"].astype(str).to_dict()
    packages = {k: s for k, s in reported.items() if k.startswith("deb.package:")}
    assert len(packages) == 40 and set(packages.values()) == {"deferred"}
    assert {k: saved[k] for k in packages} == packages
    store.close()
