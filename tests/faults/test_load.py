"""Load: 20,000 units under 1% random 5xx and connection resets. Every unit ends
downloaded or failed with a reason, the counts add up with the server's, and memory does
not grow with retries.

The fixture server runs in another process (tests/faults/load_server.py) so that the run
under test has a core of its own, as it would against a real remote.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
from pathlib import Path

import psutil
import pytest

import stagekit
from stagekit.download import DownloadConfig
from stagekit.events import UnitFinished
from stagekit.remotes.file import FileRemote
from stagekit.storage import Store
from tests.faults.load_server import load_repo

pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.timeout(400)]

N = int(os.environ.get("STAGEKIT_LOAD_UNITS", "20000"))  # fewer for a quick look
SEED = 21
CONFIG = DownloadConfig(backoff_base=0.005, backoff_max=0.02, read_timeout=5.0, tries=4)
HERE = Path(__file__).resolve().parent


# About 50 s of CPU (see the printed line), so a minute or more on a busy machine.
@pytest.mark.slow
async def test_twenty_thousand_units_under_random_faults(tmp_path):
    repo, gone, broken = load_repo(N, SEED)
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1])}
    server = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "load_server.py"), str(N), str(SEED), env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    store = Store(tmp_path / "store")
    process = psutil.Process()
    rss: dict[str, int] = {}
    finished = 0

    def sample(event) -> None:
        nonlocal finished
        if isinstance(event, UnitFinished):
            finished += 1
            for name, at in (("quarter", N // 4), ("half", N // 2), ("3/4", 3 * N // 4)):
                if finished == at:
                    rss[name] = process.memory_info().rss

    try:
        async with asyncio.timeout(30):
            base = (await server.stdout.readline()).decode().strip()
        assert base.startswith("http://127.0.0.1:"), base
        run = stagekit.Run(FileRemote(base + repo.entry_path()), store=store,
                           download_config=CONFIG)
        run.events.subscribe(sample)
        gc.collect()
        cpu = process.cpu_times()
        started = time.monotonic()
        async with asyncio.timeout(350):
            await run
        elapsed = time.monotonic() - started
        rss["end"] = process.memory_info().rss
        used = sum(process.cpu_times()[:2]) - sum(cpu[:2])
        print(f"{N} units in {elapsed:.1f} s ({used:.1f} s of CPU)")
    finally:
        server.stdin.close()
        async with asyncio.timeout(30):
            report = json.loads((await server.stdout.read()) or b"{}")
            await server.wait()
    by_path, faulted = report["by_path"], report["faults"]

    frame = run.to_dataframe()
    assert len(frame) == N and frame["key"].is_unique
    counts = frame["status"].value_counts()
    assert counts["downloaded"] + counts["failed"] == N
    failed = frame[frame["status"] == "failed"]
    assert failed["error"].notna().all() and (failed["error"].str.len() > 0).all()
    expected_failed = {f"file:{p}" for p in gone + broken}
    assert set(failed["key"]) >= expected_failed
    # Random faults fail a unit only if they hit it four times in a row: very rare.
    assert len(failed) - len(expected_failed) <= 2
    errors = dict(zip(failed["key"], failed["error"], strict=True))
    assert all("HTTP 404" in errors[f"file:{p}"] for p in gone)
    assert all("HTTP 500" in errors[f"file:{p}"] for p in broken)

    # Every request the server answered is a try the run counted, and the other way round.
    arts = run.artifacts_dataframe()
    assert len(arts) == N
    assert int(arts["tries"].sum()) == sum(n for p, n in by_path.items() if p != "PULP_MANIFEST")
    retried = int((arts["tries"] - 1).sum())
    assert faulted["reset"] > N / 400 and faulted["status"] > N / 400  # the faults happened
    # Each fault costs one retry, except the last try of a unit that failed by faults.
    last_tries = len(broken) + len(failed) - len(expected_failed)
    assert retried == faulted["status"] + faulted["reset"] - last_tries
    assert run.stats["statuses"] == {k: int(v) for k, v in counts.items() if v}
    stored = store.catalog.artifact_rows(arts["sha256"].dropna().tolist())
    assert len(stored) == counts["downloaded"]

    # From the first to the third quarter, RSS grows by the run's records of the units
    # only (a kilobyte or two each); per retry, see the next test.
    growth = rss["3/4"] - rss["quarter"]
    report_line = (f"{N} units in {elapsed:.1f} s, {retried} retries, rss MiB "
                   f"{ {k: round(v / 2**20) for k, v in rss.items()} }")
    print(report_line)
    assert growth < (N // 2) * 2500, report_line


@pytest.mark.filterwarnings("error")
async def test_memory_does_not_grow_per_retry(tmp_path):
    """Over a thousand retries of one download (503s and resets), the client's memory
    stays flat: nothing is kept per try."""
    import pathlib
    import tracemalloc

    from stagekit.download import Downloader, RetryPolicy
    from stagekit.errors import DownloadError
    from stagekit.testing import Faults, make_file_repo, reset, serve, status

    tries, first, last = 1100, 200, 1000
    snapshots: dict[int, tracemalloc.Snapshot] = {}
    count = 0

    async def no_sleep(_seconds: float) -> None:
        nonlocal count
        count += 1
        if count in (first, last):
            gc.collect()
            snapshots[count] = tracemalloc.take_snapshot()

    repo = make_file_repo(1, size=64 * 1024, subdirs=0)
    path = next(iter(repo.expected.units.values())).artifacts[0].url_path
    config = DownloadConfig(tries=tries, read_timeout=5.0)
    async with serve(repo, faults=Faults(seed=3)) as server:
        server.faults.add(status(503, path=path, rate=0.5))
        server.faults.add(reset(0.5, path=path))
        policy = RetryPolicy(tries, 0.0, 0.0, sleep=no_sleep)
        tracemalloc.start(6)
        try:
            async with asyncio.timeout(120), Downloader(config, temp_dir=tmp_path,
                                                        retry=policy) as downloader:
                with pytest.raises(DownloadError, match=f"after {tries} tries"):
                    await downloader.fetch(server.url_for(path))
        finally:
            tracemalloc.stop()
        assert server.counters.count(path) == tries
    ignore = [
        # The fixture server's own request log, in the same process.
        tracemalloc.Filter(False, "*/stagekit/testing/*", all_frames=True),
        tracemalloc.Filter(False, "*/aiohttp/web_*", all_frames=True),
        # pathlib interns each temporary file's name; the interned table only resizes.
        tracemalloc.Filter(False, pathlib.__file__, all_frames=True),
    ]
    before, after = (snapshots[n].filter_traces(ignore) for n in (first, last))
    diff = after.compare_to(before, "filename")
    growth = sum(stat.size_diff for stat in diff)
    assert growth < 64 * 1024, (f"{growth} bytes over {last - first} retries", diff[:5])
    assert list(tmp_path.iterdir()) == []
