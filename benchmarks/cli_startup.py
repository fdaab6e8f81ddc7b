"""Start-up cost of the ``stagekit`` command: CPU seconds and peak RSS of whole processes.

Measures, each the best of N child processes (CPU = user + system time from ``wait4``):
``stagekit --help``, ``stagekit runs`` on an empty store and ``stagekit show N`` on a run
of many units (counted in SQL), against a bare ``python -c pass``. Targets: ``--help`` and
``runs`` under 0.3 s of CPU. ``python -X importtime`` names the heaviest imports of
``--help`` (in the JSON's details), which is where a regression shows first.

    python benchmarks/cli_startup.py [--quick] [--units N] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Measure, parse_args, report

from stagekit.storage import Catalog

CPU_TARGET = "<= 0.3"
CLI = (sys.executable, "-m", "stagekit.cli")


# Linux keeps a process's peak RSS across fork and exec, so a child of this (large)
# process would report at least our own size: a fresh, small interpreter starts each
# measured command and reports its ``wait4`` usage as JSON.
LAUNCHER = """
import json, os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = proc.stderr.read()
_pid, status, usage = os.wait4(proc.pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime,
                  usage.ru_maxrss * 1024, err.decode(errors="replace")[-2000:]]))
"""


def child_usage(cmd: Sequence[str]) -> tuple[float, int]:
    """CPU seconds (user + system) and peak RSS in bytes of one run of ``cmd``."""
    done = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], capture_output=True,
                          text=True, check=True)
    code, cpu, rss, err = json.loads(done.stdout)
    if code:
        raise SystemExit(f"{' '.join(cmd)} exited {code}: {err}")
    return float(cpu), int(rss)


def best(cmd: Sequence[str], repeats: int) -> tuple[float, int, list[float]]:
    """The least CPU of ``repeats`` runs (others' load only adds), its RSS, all samples."""
    samples = [child_usage(cmd) for _ in range(repeats)]
    cpu, rss = min(samples)
    return cpu, rss, [s[0] for s in samples]


def heaviest_imports(argv: Sequence[str], top: int = 8) -> list[dict[str, object]]:
    """The ``top`` imports by cumulative microseconds under ``python -X importtime``."""
    done = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True,
                          text=True, check=False)
    rows = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            rows.append({"module": match[4], "cumulative_us": int(match[2]),
                         "level": len(match[3]) // 2})
    top_level = [r for r in rows if r["level"] == 0]
    top_level.sort(key=lambda r: -int(str(r["cumulative_us"])))
    return [*top_level[:top], {"module": "(modules imported)", "cumulative_us": len(rows)}]


def make_store(folder: Path, units: int | None) -> int:
    """A store whose catalog holds one finished run of ``units`` units (None: no run)."""
    folder.mkdir(parents=True)
    with Catalog(folder / "catalog.sqlite3") as catalog:
        if units is None:
            return 0
        run_id = catalog.start_run("bench", {})
        kinds = ("bench.index", "bench.pkg", "bench.file")
        rows = [{"kind": kinds[min(i % 7, 2)], "key": f"bench:{i}", "natural_key": (str(i),),
                 "depth": min(i % 7, 2), "status": "failed" if i % 997 == 0 else "deferred",
                 "error": "HTTP 404 from http://127.0.0.1/x" if i % 997 == 0 else None,
                 "n_artifacts": 1, "size": 1000 + i % 5000}
                for i in range(units)]
        for start in range(0, units, 5000):
            catalog.save_batch(run_id, contents=rows[start:start + 5000])
        catalog.finish_run(run_id, "finished", {})
    return run_id


def main(argv: Sequence[str] | None = None) -> int:
    def units_flag(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--units", type=int, default=None,
                            help="units in the run that `show` reads")

    args = parse_args((__doc__ or "").splitlines()[0], argv, extra=units_flag)
    repeats = args.repeats or (2 if args.quick else 7)
    units = args.units or (2_000 if args.quick else 100_000)
    measures: list[Measure] = []
    with tempfile.TemporaryDirectory(prefix="stagekit-bench-cli-") as tmp:
        empty, full = Path(tmp) / "empty", Path(tmp) / "full"
        make_store(empty, None)
        run_id = make_store(full, units)
        python, python_rss, python_samples = best((sys.executable, "-c", "pass"), repeats)
        commands = {
            "stagekit --help": ((*CLI, "--help"), CPU_TARGET),
            "stagekit runs (empty store)": ((*CLI, "runs", "--store", str(empty)), CPU_TARGET),
            f"stagekit show (run of {units:,} units)": (
                (*CLI, "show", str(run_id), "--store", str(full)), None),
        }
        details: dict[str, object] = {"python_pass_cpu_seconds": python_samples,
                                      "help_imports": heaviest_imports(["-m", "stagekit.cli",
                                                                        "--help"])}
        for name, (cmd, target) in commands.items():
            cpu, rss, samples = best(cmd, repeats)
            details[f"{name} cpu_seconds"] = samples
            measures.append(Measure(
                f"cli: {name}, CPU", cpu, "s", baseline=python, target=target,
                target_on="value", notes=f"best of {repeats}; baseline: python -c pass",
                extra={"peak_rss_mb": rss / 1e6, "python_rss_mb": python_rss / 1e6}))
            if name.startswith("stagekit show"):
                measures.append(Measure(
                    f"cli: {name}, peak RSS", rss / 1e6, "MB", baseline=python_rss / 1e6,
                    notes="baseline: python -c pass"))
    report("cli_startup", args, measures, details)
    for row in details["help_imports"]:  # type: ignore[attr-defined]
        print(f"  {row['cumulative_us']:>9}  {row['module']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
