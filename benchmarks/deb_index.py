"""Debian: DebRemote exploring a 60,000-package index metadata-only, against python-debian.

The parent generates an archive with one ``Packages`` index of N stanzas (served as
``.xz``, ``.gz`` and plain; no ``.deb`` files) and serves it on 127.0.0.1. A fresh
subprocess explores it with ``DebRemote`` under ``policy="metadata-only"`` (the Release
and the index through the pipeline, the N package units recorded in bulk into the
catalog: `stagekit.leaves`), sampling the
event loop's lag, the loop thread's CPU time between ticks and garbage-collection pauses
meanwhile; then, in the same process, it decompresses the stored index
to a file and times python-debian parsing it alone (``iter_paragraphs``, pure Python):
the baseline. A second fresh process only parses that file, for a baseline peak RSS.

    python benchmarks/deb_index.py [--quick] [--packages N]
"""

from __future__ import annotations

import asyncio
import gc
import json
import lzma
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Measure, parse_args, report, run_measuring_rss

MB = 1_000_000
TICK = 0.01


def _self_peak_rss() -> int:
    """This process's peak RSS since exec (VmHWM): ``ru_maxrss`` would also count the
    parent's RSS at fork time, which here holds the whole generated archive."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _GcPauses:
    """A `gc.callbacks` hook: the CPU time collections took, on the loop thread and in
    others (a collection in a worker thread holds the GIL, so the loop waits for it)."""

    def __init__(self) -> None:
        self.loop_thread = threading.get_ident()
        self.started = 0.0
        self.max_loop = self.max_other = self.total = 0.0
        self.count = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.thread_time()
            return
        took = time.thread_time() - self.started  # CPU: steadier than wall time
        self.total += took
        self.count += 1
        if threading.get_ident() == self.loop_thread:
            self.max_loop = max(self.max_loop, took)
        else:
            self.max_other = max(self.max_other, took)


def _parse_seconds(path: Path) -> tuple[float, int, float]:
    """Wall seconds, stanzas and CPU seconds of python-debian parsing ``path``."""
    from debian import deb822

    start, cpu = time.perf_counter(), time.process_time()
    with open(path, encoding="utf-8") as f:
        count = sum(1 for _ in deb822.Packages.iter_paragraphs(f, use_apt_pkg=False))
    return time.perf_counter() - start, count, time.process_time() - cpu


def worker_explore(url: str, store_dir: str) -> dict[str, Any]:
    """Explore the served archive, then time python-debian alone on the same index."""
    import stagekit
    from stagekit.remotes.deb import DebRemote

    imported_rss = _self_peak_rss()
    pauses = _GcPauses()
    lags: list[float] = []
    held: list[float] = []  # the loop thread's own CPU time between two ticks

    rss: list[tuple[float, int]] = []  # (seconds into the run, RSS) every 10 ticks
    page = os.sysconf("SC_PAGE_SIZE")

    async def ticker() -> None:
        first = last = time.perf_counter()
        last_cpu = time.thread_time()
        while True:
            await asyncio.sleep(TICK)
            now, now_cpu = time.perf_counter(), time.thread_time()
            lags.append(now - last - TICK)
            held.append(now_cpu - last_cpu)
            last, last_cpu = now, now_cpu
            if len(lags) % 10 == 0:
                statm.seek(0)
                rss.append((now - first, int(statm.read().split()[1]) * page))

    async def explore() -> tuple[Any, float, float]:
        tick = asyncio.create_task(ticker())
        try:
            start, cpu = time.perf_counter(), time.process_time()
            run = await stagekit.explore(DebRemote(url, "stable"), store=store_dir,
                                         policy="metadata-only")
            return run, time.perf_counter() - start, time.process_time() - cpu
        finally:
            tick.cancel()
            await asyncio.gather(tick, return_exceptions=True)

    gc.callbacks.append(pauses)
    statm = open("/proc/self/statm", "rb", buffering=0)  # read by the ticker
    try:
        run, seconds, cpu_seconds = asyncio.run(explore())
    finally:
        gc.callbacks.remove(pauses)
        statm.close()
    explore_rss = _self_peak_rss()
    stats = run.stats
    artifacts = run.artifacts_dataframe().set_index("unit_key")
    index_sha = artifacts.loc["deb.packages:main:amd64", "sha256"]
    plain = Path(store_dir) / "decompressed-Packages"
    with lzma.open(run.store.artifact_path(index_sha)) as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    parse_seconds, stanzas, parse_cpu = _parse_seconds(plain)
    run.store.close()
    lags.sort()
    held.sort()
    return {
        "seconds": seconds, "cpu_seconds": cpu_seconds, "baseline_parse_cpu": parse_cpu,
        "units": stats["units"], "statuses": stats["statuses"],
        "errors": stats["errors"], "imported_rss": imported_rss, "explore_rss": explore_rss,
        "baseline_parse_seconds": parse_seconds, "baseline_stanzas": stanzas,
        "index_bytes": plain.stat().st_size,
        "loop_lag_max": lags[-1] if lags else 0.0,
        "loop_lag_p99": lags[int(len(lags) * 0.99)] if lags else 0.0,
        "loop_cpu_max": held[-1] if held else 0.0,
        "loop_cpu_p99": held[int(len(held) * 0.99)] if held else 0.0,
        "after_baseline_rss": _self_peak_rss(),
        "gc_max_pause_loop": pauses.max_loop, "gc_max_pause_other": pauses.max_other,
        "gc_seconds": pauses.total, "gc_collections": pauses.count,
        "rss_peak_at": max(rss, key=lambda r: r[1])[0] / seconds if rss else None,
    }


def worker_parse(path: str) -> dict[str, Any]:
    """Parse the decompressed index with python-debian alone in a fresh process."""
    imported_rss = _self_peak_rss()
    seconds, stanzas, cpu = _parse_seconds(Path(path))
    return {"seconds": seconds, "cpu_seconds": cpu, "stanzas": stanzas,
            "imported_rss": imported_rss, "peak_rss": _self_peak_rss()}


def _spawn(*worker_args: str, timeout: float) -> tuple[dict[str, Any], int]:
    out, peak = run_measuring_rss([sys.executable, __file__, "--worker", *worker_args],
                                  timeout=timeout)
    return json.loads(out.strip().splitlines()[-1]), peak


async def _measure(packages: int, limit: float) -> dict[str, Any]:
    from stagekit.testing import serve
    from stagekit.testing.debian import make_deb_repo

    started = time.perf_counter()
    repo = make_deb_repo(components=["main"], architectures=["amd64"], n_packages=packages,
                         with_debs=False, expected_release="InRelease")
    generated = time.perf_counter() - started
    expected_units = len(repo.expected.units)
    with tempfile.TemporaryDirectory(prefix="stagekit-bench-deb-") as tmp:
        plain = Path(tmp) / "Packages"
        plain.write_bytes(repo.files[repo.index_path("main", "amd64")].body)
        async with serve(repo) as server:
            explore, explore_peak = await asyncio.to_thread(
                _spawn, "explore", server.url, str(Path(tmp) / "store"), timeout=limit)
        del repo
        parse, parse_peak = await asyncio.to_thread(_spawn, "parse", str(plain),
                                                    timeout=limit)
    if explore["units"] != expected_units or explore["errors"]:
        raise AssertionError(f"expected {expected_units} units and no errors, got {explore}")
    # ru_maxrss of a child counts the parent's RSS at fork (kept for reference only).
    return {"packages": packages, "generate_seconds": generated, "explore": explore,
            "explore_ru_maxrss": explore_peak, "parse": parse, "parse_ru_maxrss": parse_peak}


def main(argv: list[str] | None = None) -> int:
    """Run both sides in subprocesses, print the table, write ``results/deb_index.json``."""
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--worker":
        kind, *rest = argv[1:]
        result = worker_explore(*rest) if kind == "explore" else worker_parse(*rest)
        print(json.dumps(result))
        return 0

    def extra(parser: Any) -> None:
        parser.add_argument("--packages", type=int, default=None)
        parser.add_argument("--timeout", type=float, default=1800.0)

    args = parse_args(__doc__.splitlines()[0], argv, extra)
    packages = args.packages or (3_000 if args.quick else 60_000)
    load_before = os.getloadavg()
    details = asyncio.run(_measure(packages, args.timeout))
    details["load_average"] = {"before": load_before, "after": os.getloadavg()}
    e, p = details["explore"], details["parse"]
    size = f"{packages:,}-package index ({e['index_bytes'] / MB:.0f} MB)"
    measures = [
        Measure(f"deb: explore {size} metadata-only, wall time", e["seconds"], "s",
                baseline=e["baseline_parse_seconds"], target="<= 1.5",
                notes="baseline = python-debian iter_paragraphs alone on the same "
                      "decompressed file, same process",
                extra={"units": e["units"], "units_per_s": e["units"] / e["seconds"]}),
        Measure(f"deb: explore {size} metadata-only, CPU time", e["cpu_seconds"], "s",
                baseline=e["baseline_parse_cpu"], target="<= 1.5",
                notes="process CPU time (threads included) of the same two; steadier than "
                      "wall time on a shared machine",
                extra={"cpu_us_per_unit": e["cpu_seconds"] / e["units"] * 1e6}),
        Measure(f"deb: explore {size}, peak RSS", e["explore_rss"] / MB, "MB",
                baseline=e["imported_rss"] / MB, target="<= 150", target_on="value",
                notes="baseline = same process right after import stagekit (pandas etc.)",
                extra={"parse_alone_peak_mb": p["peak_rss"] / MB}),
        Measure(f"deb: explore {size}, max event-loop lag", e["loop_lag_max"] * 1000, "ms",
                target="<= 50", target_on="value",
                notes="wall time between 10 ms ticks beyond 10 ms: includes waiting for "
                      "the GIL (held by a worker thread, or a garbage collection in one) "
                      "and for a CPU on a busy machine",
                extra={"p99_ms": e["loop_lag_p99"] * 1000,
                       "gc_max_pause_other_thread_ms": e["gc_max_pause_other"] * 1000}),
        Measure(f"deb: explore {size}, max loop CPU time between two ticks",
                e["loop_cpu_max"] * 1000, "ms", target="<= 50", target_on="value",
                notes="the loop thread's own CPU time (thread_time) between two ticks: "
                      "how long stagekit held the loop, whatever the machine's load "
                      "(garbage collections on the loop thread included)",
                extra={"p99_ms": e["loop_cpu_p99"] * 1000,
                       "gc_max_pause_loop_thread_ms": e["gc_max_pause_loop"] * 1000}),
    ]
    report("deb_index", args, measures, details)
    print(f"python-debian alone in a fresh process: {p['seconds']:.1f} s, "
          f"{p['peak_rss'] / MB:.0f} MB peak; fixture generated in "
          f"{details['generate_seconds']:.1f} s")
    print(f"garbage collection during the run: {e['gc_collections']} collections, "
          f"{e['gc_seconds']:.2f} s; longest {e['gc_max_pause_loop'] * 1000:.0f} ms on the "
          f"loop thread, {e['gc_max_pause_other'] * 1000:.0f} ms in a worker thread; load "
          f"average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
