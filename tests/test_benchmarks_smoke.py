"""Every benchmark script runs with --quick and writes valid JSON (speed is never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py")
                 if not p.name.startswith("_") and p.name != "run_all.py")
ROW_KEYS = {"measure", "value", "unit", "baseline", "ratio", "target", "met"}


def run(*args: str, timeout: float = 100) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def check_payload(path: Path) -> dict:
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert payload["name"] == path.stem
    assert payload["quick"] is True
    assert payload["machine"]["cores_logical"] >= 1
    assert payload["machine"]["python"] == sys.version.split()[0]
    assert payload["measures"], "no measure in the JSON"
    for row in payload["measures"]:
        assert ROW_KEYS <= set(row), row
        assert row["value"] > 0
        if row["baseline"] is not None:
            assert row["ratio"] == pytest.approx(row["value"] / row["baseline"])
    return payload


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_quick_run_prints_table_and_writes_json(script, tmp_path):
    done = run(str(BENCH / script), "--quick", "--out", str(tmp_path))
    assert "measure" in done.stdout and "ratio" in done.stdout
    written = sorted(tmp_path.glob("*.json"))
    assert written, f"{script} wrote no JSON into --out"
    for path in written:
        check_payload(path)


def test_run_all_combines_results_with_machine_description(tmp_path):
    done = run(str(BENCH / "run_all.py"), "--quick", "--only", "pipeline", "--out",
               str(tmp_path))
    assert "all benchmarks" in done.stdout
    combined = json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))
    machine = combined["machine"]
    assert {"cpu_model", "cores_logical", "ram_bytes", "python", "aiohttp"} <= set(machine)
    # The pipeline script writes a wall and a CPU row per queue size (1 and 100).
    assert [row["script"] for row in combined["measures"]] == ["pipeline"] * 4
    assert combined["scripts"]["pipeline"]["returncode"] == 0
    check_payload(tmp_path / "pipeline.json")
