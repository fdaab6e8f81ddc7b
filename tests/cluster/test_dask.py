"""Discovery on a Dask LocalCluster of 2 worker processes gives what one process gives."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

import stagekit
from stagekit.download import DownloadConfig
from stagekit.errors import ConfigurationError
from stagekit.remotes.deb import DebRemote
from stagekit.remotes.maven import MavenRemote
from stagekit.testing import serve
from stagekit.testing.checks import assert_run_matches
from stagekit.testing.debian import make_deb_repo
from stagekit.testing.maven import make_maven_repo

try:
    import distributed
except ImportError:  # pragma: no cover - the conftest skips these tests then
    distributed = None  # type: ignore[assignment]

TIMEOUT = 180
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.05, read_timeout=5.0)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(TIMEOUT + 60)]


def _stored(run) -> set[tuple[str, str, str, str]]:
    return {(r.unit_key, r.relative_path, r.sha256, r.status)
            for r in run.artifacts_dataframe().itertuples(index=False)}


def _same_files(spread, alone) -> None:
    """The same files under the same digests for the same units, with the same statuses
    (a batch Dask retried after its worker died included)."""
    one = {row[:3]: row[3] for row in _stored(alone)}
    two = {row[:3]: row[3] for row in _stored(spread)}
    assert two == one


async def test_a_maven_run_on_two_workers_matches_one_process(client, tmp_path: Path) -> None:
    repo = make_maven_repo(n_poms=150, depth=5, seed=7, bom=True, parent_chain=3)
    async with serve(repo) as server, asyncio.timeout(TIMEOUT):
        remote = MavenRemote(server.url_for(repo.entry_path()), repo.roots)
        alone = await stagekit.explore(remote, store=tmp_path / "one", download_config=FAST)
        spread = await stagekit.explore(remote, store=tmp_path / "two", download_config=FAST,
                                        cluster=client)
    assert_run_matches(spread, repo.expected)
    assert spread.depths() == alone.depths()
    assert spread.records.edge_set() == alone.records.edge_set()
    _same_files(spread, alone)
    files = {p.name for p in (tmp_path / "two" / "artifacts").rglob("*") if p.is_file()}
    assert files == {p.name for p in (tmp_path / "one" / "artifacts").rglob("*") if p.is_file()}


@pytest.mark.timeout(2 * TIMEOUT + 60)
async def test_a_worker_killed_mid_run_loses_nothing(client, tmp_path: Path) -> None:
    repo = make_maven_repo(n_poms=300, depth=6, seed=11)
    pids = list((await client.run(os.getpid)).values())
    async with serve(repo) as server:
        remote = MavenRemote(server.url_for(repo.entry_path()), repo.roots)
        async with asyncio.timeout(TIMEOUT):
            alone = await stagekit.explore(remote, store=tmp_path / "one", download_config=FAST)
        run = stagekit.start(remote, store=tmp_path / "s", download_config=FAST, cluster=client)
        killed = asyncio.Event()

        def kill_once(event: object) -> None:
            # After some units came back from the workers, one worker dies.
            if not killed.is_set() and len(run.records.units) >= 40:
                killed.set()
                os.kill(pids[0], signal.SIGKILL)

        run.events.subscribe(kill_once)
        async with asyncio.timeout(TIMEOUT):
            await run
    assert killed.is_set()
    assert_run_matches(run, repo.expected)
    # Nothing twice in the catalog either: one row per unit, one link per artifact.
    saved = run.store.catalog.load_run(run.run_id)
    assert sorted(u["key"] for u in saved.units) == sorted(repo.expected.units)
    links = [(a["unit_key"], a["relative_path"]) for a in saved.artifacts]
    assert len(links) == len(set(links)) == sum(
        len(u.artifacts) for u in repo.expected.units.values())
    # The batch retried elsewhere says "downloaded" for the files its first attempt
    # stored, as one process would: same statuses, same new bytes.
    _same_files(run, alone)
    assert run.stats["bytes"] == alone.stats["bytes"] > 0


async def test_a_debian_run_on_two_workers_matches_one_process(client, tmp_path: Path) -> None:
    repo = make_deb_repo(packages=8, expected_release="InRelease", seed=3)
    async with serve(repo) as server, asyncio.timeout(TIMEOUT):
        remote = DebRemote(server.url, "stable")
        alone = await stagekit.explore(remote, store=tmp_path / "one", download_config=FAST)
        spread = await stagekit.explore(remote, store=tmp_path / "two", download_config=FAST,
                                        cluster=client)
    assert spread.errors == [] and alone.errors == []
    assert_run_matches(spread, repo.expected)
    assert spread.depths() == alone.depths()
    assert spread.records.edge_set() == alone.records.edge_set()
    _same_files(spread, alone)
    # The workers' download events reached the coordinator's records.
    assert spread.stats["bytes"] == alone.stats["bytes"] > 0


def test_a_remote_that_does_not_pickle_is_refused_with_its_name(tmp_path: Path) -> None:
    from stagekit.cluster import ClusterRemote

    remote = MavenRemote("http://127.0.0.1:1/", ["g:a:1"])
    remote.unpicklable = lambda: None  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="MavenRemote must pickle"):
        ClusterRemote(remote, client=None)


def test_a_remote_with_state_across_units_is_refused_on_a_cluster() -> None:
    from stagekit.cluster import ClusterRemote
    from stagekit.remotes.pypi import PyPIRemote

    remote = PyPIRemote("http://127.0.0.1:1/simple/", ["app"])
    with pytest.raises(ConfigurationError, match="PyPIRemote keeps state across units"):
        ClusterRemote(remote, client=None)


def test_explore_sync_with_a_blocking_client_finds_the_whole_tree(tmp_path: Path) -> None:
    from stagekit.testing.noop import NoopTree

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        host="127.0.0.1",
    ) as cluster, distributed.Client(cluster) as client:
        run = stagekit.explore_sync(NoopTree(300, fanout=4), store=tmp_path / "s",
                                    cluster=client)
    assert run.status == "finished"
    depths = run.depths()
    assert len(depths) == 300 and max(depths.values()) == 4
    parents = {(f"noop.node:{(i - 1) // 4}", f"noop.node:{i}") for i in range(1, 300)}
    assert {(a, b) for a, b, _relation in run.records.edge_set()} == parents
