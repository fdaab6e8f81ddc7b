"""What a cluster run keeps under control: per-host limits across workers, and cancelling."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

import stagekit
from stagekit.cluster import ClusterRemote
from stagekit.cluster._worker import running_batches
from stagekit.download import DownloadConfig
from stagekit.remotes.file import FileRemote
from stagekit.remotes.maven import MavenRemote
from stagekit.testing import Faults, latency, serve
from stagekit.testing.checks import assert_run_matches
from stagekit.testing.file import make_file_repo
from stagekit.testing.maven import make_maven_repo

TIMEOUT = 120
pytestmark = [pytest.mark.slow, pytest.mark.timeout(TIMEOUT + 60)]


def _count_tasks(dask_scheduler: Any) -> int:
    return len(dask_scheduler.tasks)


async def _files_run(client: Any, store: Path, per_host: int) -> tuple[Any, int]:
    repo = make_file_repo(60, size=256, seed=5)
    faults = Faults()
    # Long enough that both workers' batches overlap even on a busy machine.
    faults.add(latency(0.25, path="*"))
    config = DownloadConfig(per_host=per_host, total=20, backoff_base=0.01, backoff_max=0.05)
    async with serve(repo, faults=faults) as server, asyncio.timeout(TIMEOUT):
        run = await stagekit.explore(FileRemote(server.url_for(repo.entry_path())),
                                     store=store, download_config=config, cluster=client)
        most = server.counters.max_in_flight_by_host[URL(server.url).raw_authority]
    assert_run_matches(run, repo.expected)
    return run, most


async def test_the_per_host_limit_holds_across_workers(client, tmp_path: Path) -> None:
    _run, most = await _files_run(client, tmp_path / "gated", per_host=2)
    assert most == 2


async def test_without_the_cluster_gate_each_worker_has_its_own_limit(
    client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control for the test above: per worker only, 2 workers open up to 2 x 2.
    monkeypatch.setattr(ClusterRemote, "host_limit", False)
    _run, most = await _files_run(client, tmp_path / "open", per_host=2)
    assert most > 2


async def test_cancelling_stops_the_cluster_work_within_seconds(client, tmp_path: Path) -> None:
    repo = make_maven_repo(n_poms=400, depth=6, seed=13)
    faults = Faults()
    faults.add(latency(0.05, path="*"))
    async with serve(repo, faults=faults) as server:
        remote = MavenRemote(server.url_for(repo.entry_path()), repo.roots)
        run = stagekit.start(remote, store=tmp_path / "s", cluster=client)
        started = asyncio.Event()
        run.events.subscribe(lambda _e: started.set() if len(run.records.units) >= 30 else None)
        async with asyncio.timeout(TIMEOUT):
            await started.wait()
        assert not run.done
        cluster_remote = run.stages[0].remote
        assert isinstance(cluster_remote, ClusterRemote)
        async with asyncio.timeout(5):
            run.cancel()
            with pytest.raises(asyncio.CancelledError):
                await run
            assert run.status == "cancelled"
            # Nothing left on the scheduler, nothing running on the workers.
            assert await client.run_on_scheduler(_count_tasks) == 0
            assert cluster_remote.workers  # the workers that ran batches
            running = await client.run(running_batches, cluster_remote.token,
                                       workers=sorted(cluster_remote.workers))
            assert set(running.values()) == {0}
    assert len(run.records.units) < len(repo.expected.units)
