"""Scale: N units explored metadata-only, peak RSS and wall time, each in a fresh process.

A tiny `Remote` yields N units, each with one deferred artifact (never fetched under
``policy="metadata-only"``), in two shapes: ``flat`` (N roots, no futures) and ``tree``
(roots with futures whose children come from `discover`, 100 units per root). Each shape
runs through `stagekit.explore` in a fresh subprocess; the baseline is that process's
peak RSS right after ``import stagekit``, before exploring. Target: peak RSS <= 300 MB
at N = 100,000.

    python benchmarks/bench_scale.py [--quick] [--units N] [--shapes flat,tree]
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

TARGET_MB = 300
FANOUT = 99  # children per root in the tree shape: 100 units per root
MB = 1_000_000
# An address nothing listens on: a deferred artifact that got fetched would fail loudly.
DEAD_URL = "http://127.0.0.1:9/blobs/"


def _self_peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker(shape: str, units: int, store_dir: str) -> dict[str, Any]:
    """Explore ``units`` units in this process; returns what the parent reports."""
    import stagekit
    from stagekit import Remote
    from stagekit.models import Content, DeclarativeArtifact, DeclarativeContent

    imported_rss = _self_peak_rss()

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
    run = stagekit.explore_sync(Synthetic(), store=store_dir, policy="metadata-only")
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
        parser.add_argument("--units", type=int, default=None)
        parser.add_argument("--shapes", default="flat,tree")
        parser.add_argument("--timeout", type=float, default=1800.0)

    args = parse_args(__doc__.splitlines()[0], argv, extra)
    units = args.units or (1_000 if args.quick else 100_000)
    measures: list[Measure] = []
    details: dict[str, Any] = {"units": units}
    for shape in args.shapes.split(","):
        with tempfile.TemporaryDirectory(prefix="stagekit-bench-scale-") as store_dir:
            result, peak = _spawn(shape, str(units), store_dir, timeout=args.timeout)
        result["peak_rss"] = peak
        details[shape] = result
        if result["units"] != units or result["statuses"].get("deferred") != units:
            raise AssertionError(f"{shape}: expected {units} deferred units, got {result}")
        measures.append(Measure(
            f"scale: {units:,} units {shape} metadata-only, peak RSS", result["explore_rss"] / MB,
            "MB", baseline=result["imported_rss"] / MB, target=f"<= {TARGET_MB}",
            target_on="value", notes="baseline = same process right after import stagekit",
            extra={"seconds": result["seconds"]}))
        measures.append(Measure(
            f"scale: {units:,} units {shape} metadata-only, wall time", result["seconds"], "s",
            extra={"units_per_s": units / result["seconds"]}))
    report("scale", args, measures, details)
    for shape in args.shapes.split(","):
        r = details[shape]
        print(f"{shape}: {r['seconds']:.1f} s ({units / r['seconds']:,.0f} units/s), "
              f"RSS after explore {r['explore_rss'] / MB:.0f} MB, "
              f"after to_dataframe {r['after_dataframe_rss'] / MB:.0f} MB "
              f"({r['dataframe_seconds']:.2f} s), process peak {r['peak_rss'] / MB:.0f} MB")
    return 0


def _worker_args(argv: list[str]) -> tuple[str, int, str]:
    shape, units, store_dir = argv[1], int(argv[2]), argv[3]
    if shape not in ("flat", "tree"):
        raise SystemExit(f"unknown shape {shape!r}: flat or tree")
    return shape, units, store_dir


if __name__ == "__main__":
    sys.exit(main())
