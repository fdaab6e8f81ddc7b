"""The crawl benchmark's quick run: every crawler reads each page once, rows per mode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "crawl.py"


@pytest.mark.slow
def test_crawl_quick_run_reads_each_page_once_per_crawler(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--depth", "2", "--per-host", "4",
         "--latency", "0", "--repeats", "2", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    payload = json.loads((tmp_path / "crawl.json").read_text(encoding="utf-8"))
    details = payload["details"]
    assert details["pages"] == 21
    runs = details["runs"]["4"]
    assert sorted(runs) == ["bare", "metadata", "stored"]
    for mode, rounds in runs.items():
        assert len(rounds) == 2, mode
        assert all(r["requests"] == 21 and 1 <= r["max_in_flight"] <= 4 for r in rounds), mode
    ratios = {m["measure"]: m for m in payload["measures"] if m["unit"] == "x"}
    assert sorted(ratios) == [
        "crawl 21 pages, 4/host, metadata-only: wall ratio vs bare (median of rounds)",
        "crawl 21 pages, 4/host, pages stored: wall ratio vs bare (median of rounds)"]
    for row in ratios.values():
        assert len(row["extra"]["pair_ratios"]) == 2
        assert row["target"] is None  # targets are set for 10 and 100 per host only
