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

pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.timeout(180)]

N = 20_000
SEED = 21
CONFIG = DownloadConfig(backoff_base=0.005, backoff_max=0.02, read_timeout=5.0, tries=4)
HERE = Path(__file__).resolve().parent


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
        started = time.monotonic()
        async with asyncio.timeout(150):
            await run
        elapsed = time.monotonic() - started
        rss["end"] = process.memory_info().rss
        print(f"{N} units in {elapsed:.1f} s")
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
    expected_failed = {f"file:{p.split('/', 1)[1]}" for p in gone + broken}
    assert set(failed["key"]) >= expected_failed
    # Random faults fail a unit only if they hit it four times in a row: very rare.
    assert len(failed) - len(expected_failed) <= 2
    errors = dict(zip(failed["key"], failed["error"], strict=True))
    assert all("HTTP 404" in errors[f"file:{p.split('/', 1)[1]}"] for p in gone)
    assert all("HTTP 500" in errors[f"file:{p.split('/', 1)[1]}"] for p in broken)

    # Every request the server answered is a try the run counted, and the other way round.
    arts = run.artifacts_dataframe()
    assert len(arts) == N
    assert int(arts["tries"].sum()) == sum(n for p, n in by_path.items() if p != "PULP_MANIFEST")
    retried = int((arts["tries"] - 1).sum())
    assert faulted["reset"] > 50 and faulted["status"] > 50  # the faults did happen
    # Each fault costs one retry, except the last try of a unit that failed by faults.
    last_tries = len(broken) + len(failed) - len(expected_failed)
    assert retried == faulted["status"] + faulted["reset"] - last_tries
    assert run.stats["statuses"] == {k: int(v) for k, v in counts.items() if v}
    stored = store.catalog.artifact_rows(arts["sha256"].dropna().tolist())
    assert len(stored) == counts["downloaded"]

    # Flat: from the first to the third quarter of a run that keeps retrying, RSS grows
    # by the records of the units only (well under a kilobyte each), not per retry.
    growth = rss["3/4"] - rss["quarter"]
    report_line = (f"{N} units in {elapsed:.1f} s, {retried} retries, rss MiB "
                   f"{ {k: round(v / 2**20) for k, v in rss.items()} }")
    print(report_line)
    assert growth < 16 * 2**20, report_line
