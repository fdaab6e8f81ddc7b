"""Scale: N units explored metadata-only, peak RSS and wall time, each in a fresh process.

A tiny `Remote` yields N units, each with one deferred artifact (never fetched under
``policy="metadata-only"``), in two shapes: ``flat`` (N roots, no futures) and ``tree``
(roots with futures whose children come from `discover`, 100 units per root). Each shape
runs through `stagekit.explore` in a fresh subprocess; the baseline is that process's
peak RSS right after ``import stagekit``, before exploring. Each size of ``--units``
(default 10k, 100k and 300k) reports CPU time per unit next to wall time, so a cost
that grows with the run's size shows as a rising per-unit figure. Targets: CPU <= 60 us
per unit at every size, peak RSS <= 200 MB at N = 100,000. The modules a first run
loads (aiohttp and its TLS context, the stages) are imported before the clock starts:
that one-time cost (about 0.5 s of CPU, 50 us per unit at 10k) is reported apart.

    python benchmarks/bench_scale.py [--quick] [--units N[,N...]] [--shapes flat,tree]
"""

from __future__ import annotations

import hashlib
import json
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Measure, parse_args, report, run_measuring_rss

TARGET_MB = 200
TARGET_CPU_US = 60
RSS_TARGET_UNITS = 100_000
FANOUT = 99  # children per root in the tree shape: 100 units per root
MB = 1_000_000
# An address nothing listens on: a deferred artifact that got fetched would fail loudly.
DEAD_URL = "http://127.0.0.1:9/blobs/"


def _self_peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker(shape: str, units: int, store_dir: str) -> dict[str, Any]:
    """Explore ``units`` units in this process; returns what the parent reports."""
    from stagekit import Remote
    from stagekit.models import Content, DeclarativeArtifact, DeclarativeContent

    imported_rss = _self_peak_rss()
    import_start = time.process_time()
    from stagekit.run import explore_sync  # what `stagekit.explore_sync` loads on first use
    import_cpu = time.process_time() - import_start

    @dataclass(frozen=True, slots=True)
    class Pkg(Content):
        kind = "bench.pkg"
        name: str

        def natural_key(self) -> tuple[str]:
            return (self.name,)

    def unit(name: str) -> DeclarativeContent:
        sha256 = hashlib.sha256(name.encode()).hexdigest()
        artifact = DeclarativeArtifact(DEAD_URL + name, f"blobs/{name}.bin",
                                       digests={"sha256": sha256}, size=1 << 20, deferred=True)
        return DeclarativeContent(Pkg(name), [artifact])

    class Synthetic(Remote):
        async def roots(self, ctx) -> AsyncIterator[DeclarativeContent]:
            n_roots = units if shape == "flat" else -(-units // (FANOUT + 1))
            for i in range(n_roots):
                yield unit(f"r{i}")

        def has_children(self, dc: DeclarativeContent) -> bool:
            return shape == "tree" and dc.depth == 0

        async def discover(self, ctx: Any, content: Content, dc: DeclarativeContent
                           ) -> AsyncIterator[DeclarativeContent]:
            for j in range(FANOUT):
                yield unit(f"{content.name}-c{j}")  # type: ignore[attr-defined]

    start = time.perf_counter()
    cpu_start = time.process_time()
    run = explore_sync(Synthetic(), store=store_dir, policy="metadata-only")
    cpu = time.process_time() - cpu_start
    elapsed = time.perf_counter() - start
    explore_rss = _self_peak_rss()
    stats = run.stats
    frame_start = time.perf_counter()
    frame = run.to_dataframe()
    frame_seconds = time.perf_counter() - frame_start
    run.store.close()
    return {
        "shape": shape, "units": stats["units"], "statuses": stats["statuses"],
        "status": stats["status"], "errors": stats["errors"], "seconds": elapsed,
        "cpu_seconds": cpu, "first_import_cpu_seconds": import_cpu,
        "imported_rss": imported_rss, "explore_rss": explore_rss,
        "dataframe_rows": len(frame), "dataframe_seconds": frame_seconds,
        "after_dataframe_rss": _self_peak_rss(),
    }


def _spawn(*worker_args: str, timeout: float) -> tuple[dict[str, Any], int]:
    out, peak = run_measuring_rss([sys.executable, __file__, "--worker", *worker_args],
                                  timeout=timeout)
    return json.loads(out.strip().splitlines()[-1]), peak


def main(argv: list[str] | None = None) -> int:
    """Run every shape in a subprocess, print the table, write ``results/scale.json``."""
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--worker":
        print(json.dumps(worker(*_worker_args(argv))))
        return 0

    def extra(parser: Any) -> None:
        parser.add_argument("--units", default=None, help="comma-separated sizes")
        parser.add_argument("--shapes", default="flat,tree")
        parser.add_argument("--timeout", type=float, default=1800.0)

    args = parse_args(__doc__.splitlines()[0], argv, extra)
    sizes = [int(u) for u in (args.units or ("1000" if args.quick else
                                             "10000,100000,300000")).split(",")]
    shapes = args.shapes.split(",")
    measures: list[Measure] = []
    details: dict[str, Any] = {"units": sizes}
    for units in sizes:
        for shape in shapes:
            with tempfile.TemporaryDirectory(prefix="stagekit-bench-scale-") as store_dir:
                result, peak = _spawn(shape, str(units), store_dir, timeout=args.timeout)
            result["peak_rss"] = peak
            details[f"{shape}_{units}"] = result
            if result["units"] != units or result["statuses"].get("deferred") != units:
                raise AssertionError(f"{shape}: expected {units} deferred units, got {result}")
            rss_target = f"<= {TARGET_MB}" if units == RSS_TARGET_UNITS else None
            measures.append(Measure(
                f"scale: {units:,} units {shape} metadata-only, peak RSS",
                result["explore_rss"] / MB, "MB", baseline=result["imported_rss"] / MB,
                target=rss_target, target_on="value",
                notes="baseline = same process right after import stagekit"))
            measures.append(Measure(
                f"scale: {units:,} units {shape} metadata-only, CPU per unit",
                result["cpu_seconds"] / units * 1e6, "us", target=f"<= {TARGET_CPU_US}",
                target_on="value", notes="process CPU time of explore_sync / units",
                extra={"wall_seconds": result["seconds"]}))
            measures.append(Measure(
                f"scale: {units:,} units {shape} metadata-only, wall per unit",
                result["seconds"] / units * 1e6, "us",
                extra={"units_per_s": units / result["seconds"]}))
    report("scale", args, measures, details)
    for units in sizes:
        for shape in shapes:
            r = details[f"{shape}_{units}"]
            print(f"{shape} {units:,}: {r['seconds']:.1f} s wall, {r['cpu_seconds']:.1f} s CPU "
                  f"({r['cpu_seconds'] / units * 1e6:.0f} us/unit; first-use imports "
                  f"{r['first_import_cpu_seconds']:.2f} s apart), RSS after explore "
                  f"{r['explore_rss'] / MB:.0f} MB, after to_dataframe "
                  f"{r['after_dataframe_rss'] / MB:.0f} MB ({r['dataframe_seconds']:.2f} s), "
                  f"process peak {r['peak_rss'] / MB:.0f} MB")
    return 0


def _worker_args(argv: list[str]) -> tuple[str, int, str]:
    shape, units, store_dir = argv[1], int(argv[2]), argv[3]
    if shape not in ("flat", "tree"):
        raise SystemExit(f"unknown shape {shape!r}: flat or tree")
    return shape, units, store_dir


if __name__ == "__main__":
    sys.exit(main())
