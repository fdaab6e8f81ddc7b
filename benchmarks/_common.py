"""What every benchmark script shares: arguments, timing, peak RSS, the table and the JSON.

A script builds `Measure` rows (each one compares stagekit with a baseline run in the
same invocation) and calls `report`, which prints the table and writes
``benchmarks/results/<name>.json``::

    {"name": ..., "quick": bool, "machine": {...}, "measures": [Measure...], "details": {...}}

`run_all.py` reads that file; any script writing it in this shape joins the combined table.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS_DIR",
    "Measure",
    "Timing",
    "machine_info",
    "paired",
    "parse_args",
    "print_table",
    "report",
    "run_measuring_rss",
    "time_repeats",
    "write_json",
]

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
COLUMNS = ("measure", "value", "baseline", "ratio", "target", "met")


@dataclass(slots=True)
class Measure:
    """One row: stagekit's ``value`` against ``baseline`` and whether ``target`` is met.

    ``ratio`` is ``value / baseline``; ``target`` reads like ``"<= 1.3"`` and applies to
    the ratio, or to the value itself when ``target_on == "value"`` (e.g. an RSS cap).
    """

    measure: str
    value: float
    unit: str
    baseline: float | None = None
    target: str | None = None
    target_on: str = "ratio"
    ratio: float | None = None
    met: bool | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ratio is None and self.baseline:
            self.ratio = self.value / self.baseline
        if self.met is None and self.target:
            subject = self.value if self.target_on == "value" else self.ratio
            self.met = None if subject is None else check_target(subject, self.target)


def check_target(subject: float, target: str) -> bool:
    """Whether ``subject`` satisfies ``target`` (``"<= x"``, ``">= x"``, ``"< x"``, ``"> x"``)."""
    op, _, number = target.strip().partition(" ")
    bound = float(number)
    checks = {"<=": subject <= bound, ">=": subject >= bound, "<": subject < bound,
              ">": subject > bound}
    if op not in checks:
        raise ValueError(f"target {target!r} must start with <=, >=, < or >")
    return checks[op]


@dataclass(slots=True)
class Timing:
    """Wall seconds of every repeat, CPU seconds of each when measured, and summaries.

    Results are medians: on a shared machine the best run flatters whichever side
    happened to run in a quiet moment, and CPU time is what load disturbs least.
    """

    samples: list[float]
    cpu: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        """The fastest repeat (for reference only)."""
        return min(self.samples)

    @property
    def median(self) -> float:
        """The median wall time of the repeats."""
        return statistics.median(self.samples)

    @property
    def cpu_median(self) -> float | None:
        """The median CPU time (user + system of this process), when measured."""
        return statistics.median(self.cpu) if self.cpu else None


def paired(ours: Callable[[], float], base: Callable[[], float], pairs: int
           ) -> tuple[Timing, Timing, list[float]]:
    """Run ``ours`` and ``base`` ``pairs`` times each, alternating which goes first.

    Each callable returns the wall seconds it measured itself; the process CPU time
    around each call is recorded next to it. Returns both timings and the per-pair
    wall ratios (ours / base), whose median is steadier than a ratio of bests.
    """
    sides: tuple[Timing, Timing] = (Timing([]), Timing([]))
    for i in range(pairs):
        order = [(0, ours), (1, base)]
        for index, once in order if i % 2 == 0 else reversed(order):
            gc.collect()
            cpu = time.process_time()
            sides[index].samples.append(once())
            sides[index].cpu.append(time.process_time() - cpu)
    ratios = [a / b for a, b in zip(sides[0].samples, sides[1].samples, strict=True)]
    return sides[0], sides[1], ratios


def time_repeats(run_once: Callable[[], float], repeats: int) -> Timing:
    """Call ``run_once`` (which returns the seconds it measured itself) ``repeats`` times.

    A full collection runs before each repeat so garbage of one run is not paid by the next.
    """
    samples = []
    for _ in range(repeats):
        gc.collect()
        samples.append(run_once())
    return Timing(samples)


def parse_args(description: str, argv: Sequence[str] | None = None,
               extra: Callable[[argparse.ArgumentParser], None] | None = None
               ) -> argparse.Namespace:
    """The common flags: ``--quick`` (small sizes, a smoke run), ``--repeats``, ``--out``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--repeats", type=int, default=None, help="runs per side (median of N)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="directory for the JSON")
    if extra is not None:
        extra(parser)
    return parser.parse_args(argv)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH_DIR,
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, load, Python and library versions: what the numbers depend on."""
    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "cores_logical": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "aiohttp": _version("aiohttp"),
        "stagekit": _version("stagekit"),
        "commit": _git_commit(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    try:
        import psutil

        info["cores_physical"] = psutil.cpu_count(logical=False)
        info["ram_bytes"] = psutil.virtual_memory().total
    except ImportError:
        info["ram_bytes"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return info


def run_measuring_rss(cmd: Sequence[str], timeout: float | None = None,
                      env: dict[str, str] | None = None) -> tuple[str, int]:
    """Run ``cmd``; return its stdout and its own peak RSS in bytes (from ``wait4``).

    ``wait4`` gives the rusage of that one child, unlike RUSAGE_CHILDREN, which is the
    maximum over every child this process ever waited for.
    """
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, env=env, text=True)
    killer = threading.Timer(timeout, proc.kill) if timeout is not None else None
    if killer is not None:
        killer.start()
    try:
        out = proc.stdout.read() if proc.stdout else ""
        _pid, status, usage = os.wait4(proc.pid, 0)
    finally:
        if killer is not None:
            killer.cancel()
        if proc.stdout:
            proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, list(cmd), out)
    return out, usage.ru_maxrss * 1024  # kilobytes on Linux


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if value == 0 or 0.01 <= abs(value) < 1e6:
            return f"{value:.3g}" if abs(value) < 10 else f"{value:,.1f}"
        return f"{value:.3e}"
    return str(value)


def table_rows(measures: Sequence[Measure | dict[str, Any]]) -> list[list[str]]:
    """The table's cells for ``measures`` (dicts from JSON or `Measure` objects)."""
    rows = []
    for m in measures:
        d = asdict(m) if isinstance(m, Measure) else m
        unit = d.get("unit") or ""
        value = f"{_fmt(d.get('value'))} {unit}".strip()
        baseline = d.get("baseline")
        base = "-" if baseline is None else f"{_fmt(baseline)} {unit}".strip()
        target = d.get("target") or "-"
        if target != "-" and d.get("target_on") == "value":
            target = f"{target} {unit}".strip()
        rows.append([str(d.get("measure")), value, base, _fmt(d.get("ratio")), target,
                     _fmt(d.get("met"))])
    return rows


def print_table(measures: Sequence[Measure | dict[str, Any]], title: str = "") -> None:
    """Print ``measures`` as an aligned text table."""
    rows = [list(COLUMNS), *table_rows(measures)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    if title:
        print(f"\n{title}")
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as indented JSON at ``path`` (directories created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def report(name: str, args: argparse.Namespace, measures: Sequence[Measure],
           details: dict[str, Any] | None = None) -> Path:
    """Print the table of one script and write ``<out>/<name>.json``; returns its path."""
    print_table(measures, title=f"{name}{' (quick)' if args.quick else ''}")
    payload = {
        "name": name,
        "quick": bool(args.quick),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "measures": [asdict(m) for m in measures],
        "details": details or {},
    }
    path = write_json(Path(args.out) / f"{name}.json", payload)
    print(f"wrote {path}")
    return path
