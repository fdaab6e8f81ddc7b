"""Maven discovery under latency: wall time against the work bound, CPU per POM, both modes.

A generated repository of N POMs (5,000 by default, `scenario_wide`) whose answers carry
``X-Checksum-Sha1`` / ``X-Checksum-Md5`` headers, as repository managers send them, is
served with ``latency(L)`` on every request (20 ms by default) and explored with
`MavenRemote`, policy metadata-only, default download settings, in two checksum modes,
interleaved run by run (``--repeats`` pairs, medians):

- ``header-or-sidecar`` (the default): the header is the digest, one request per POM;
- ``sidecar``: every POM's ``.sha1`` is asked for too (as Maven does), two requests.

The server runs on its own event loop in a forked process so that its work (and its share
of the GIL) is not the explorer's. For each mode:

- critical path = (max depth + 1) x round trips per level x L (the roots are level 0);
- work bound = requests / concurrency x L, concurrency being the per-host connection
  limit (every request goes to one host); the goal compares the default mode with the
  work bound of ONE request per POM;
- CPU per POM = process CPU time of the run / POMs (user + system of this process);
- event-loop thread CPU per POM = that thread's CPU time / POMs (the rest is worker
  threads: catalog writes, store commits); one core runs it in turn, so once it exceeds
  the work bound per POM it, not the latency, sets the wall time;
- requests per POM, counted by the server.

A last run without latency (default mode) gives stagekit's own cost alone;
``--no-fsync`` (a diagnostic) makes ``os.fsync`` free to show the share of the store's fsyncs.

    python benchmarks/maven_latency.py [--quick] [--poms N] [--latency S] [--repeats N]
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Measure, parse_args, report

import stagekit
from stagekit.download import DownloadConfig
from stagekit.remotes.maven import MavenRemote
from stagekit.testing import Faults, Server, latency
from stagekit.testing.maven import MavenRepo, scenario_wide

TARGET = "<= 1.2"
ROUND_TRIPS_PER_LEVEL = 1
MODES = ("header-or-sidecar", "sidecar")


def _serve(repo: MavenRepo, seconds: float, conn: Connection) -> None:
    """Child process: serve ``repo`` until told to stop, then send the counters back."""

    async def serve_until_asked() -> None:
        faults = Faults()
        if seconds:
            faults.add(latency(seconds))
        server = await Server(repo, faults=faults, other_origin=False).start()
        conn.send(server.url_for(repo.entry_path()))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        conn.send({"total": server.counters.total,
                   "max_in_flight": server.counters.max_in_flight})
        await server.stop()

    asyncio.run(serve_until_asked())


@contextmanager
def served_in_process(repo: MavenRepo, seconds: float) -> Iterator[tuple[str, dict[str, int]]]:
    """Serve ``repo`` from a forked process (its CPU is not the explorer's); yields the
    entry URL and a dict filled with the server's counters on exit."""
    parent, child = multiprocessing.get_context("fork").Pipe()
    process = multiprocessing.get_context("fork").Process(
        target=_serve, args=(repo, seconds, child), daemon=True)
    process.start()
    counters: dict[str, int] = {}
    try:
        yield parent.recv(), counters
        parent.send("stop")
        counters.update(parent.recv())
    finally:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()


def explore_once(repo: MavenRepo, seconds: float, checksums: str) -> dict[str, Any]:
    """One metadata-only exploration; wall and CPU time, requests and the answer's check."""
    with served_in_process(repo, seconds) as (url, counters), \
            tempfile.TemporaryDirectory(prefix="maven-bench-") as store:
        remote = MavenRemote(url, repo.roots, checksums=checksums)
        gc.collect()
        started = time.perf_counter()
        cpu_started = time.process_time()
        loop_started = time.thread_time()  # explore_sync runs the loop in this thread
        run = stagekit.explore_sync(remote, store=store, policy="metadata-only")
        loop_cpu = time.thread_time() - loop_started
        cpu = time.process_time() - cpu_started
        wall = time.perf_counter() - started
    if run.errors:
        raise SystemExit(f"the exploration failed units: {run.errors[:3]}")
    if run.depths() != repo.expected.depths():
        raise SystemExit("the exploration did not find the expected units and depths")
    if run.records.edge_set() != repo.expected.edges:
        raise SystemExit("the exploration did not find the expected edges")
    return {"wall": wall, "cpu": cpu, "loop_cpu": loop_cpu, "requests": counters["total"],
            "max_in_flight": counters["max_in_flight"],
            "units": len(run.depths()), "stats_elapsed": run.stats["elapsed"]}


def _median(runs: list[dict[str, Any]], field: str) -> float:
    return statistics.median(r[field] for r in runs)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``results/maven_latency.json``."""
    def extra(parser: Any) -> None:
        parser.add_argument("--poms", type=int, default=None, help="POMs in the repository")
        parser.add_argument("--latency", type=float, default=0.02, help="seconds per request")
        parser.add_argument("--no-floor", action="store_true", help="skip the run without latency")
        parser.add_argument("--no-fsync", action="store_true",
                            help="diagnostic: make os.fsync a no-op, to see what the store costs")

    args = parse_args(__doc__.splitlines()[0], argv, extra)
    if args.no_fsync:
        os.fsync = lambda fd: None  # diagnostic only: the store's durability made free
    n = args.poms or (300 if args.quick else 5000)
    repeats = args.repeats or (1 if args.quick else 3)
    repo = scenario_wide(n, checksum_headers="x-checksum")
    config = DownloadConfig()
    concurrency = min(config.total, config.per_host)
    max_depth = max(repo.expected.depths().values())
    critical = (max_depth + 1) * ROUND_TRIPS_PER_LEVEL * args.latency
    one_request = max(critical, n / concurrency * args.latency)

    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    for i in range(repeats):  # interleaved, alternating which mode goes first
        for mode in MODES if i % 2 == 0 else MODES[::-1]:
            runs[mode].append(explore_once(repo, args.latency, mode))
    floor = None if args.no_floor else explore_once(repo, 0.0, MODES[0])

    measures = []
    for mode in MODES:
        wall, cpu = _median(runs[mode], "wall"), _median(runs[mode], "cpu")
        requests = _median(runs[mode], "requests")
        work = requests / concurrency * args.latency
        default = mode == MODES[0]
        measures += [
            Measure(f"{mode}: wall, {n} POMs, {args.latency * 1000:g} ms/request", wall, "s",
                    baseline=one_request, target=TARGET if default else None,
                    notes=f"median of {repeats}; baseline = work bound of ONE request per "
                          f"POM ({n} / {concurrency} connections x latency)"),
            Measure(f"{mode}: wall vs its own work bound", wall, "s",
                    baseline=max(critical, work),
                    notes=f"{requests:g} requests / {concurrency} connections x latency"),
            Measure(f"{mode}: CPU per POM", cpu / n * 1000, "ms",
                    target="<= 1.5" if default else None, target_on="value",
                    notes=f"median of {repeats}; process CPU time of the run / POMs"),
            Measure(f"{mode}: event-loop thread CPU per POM", _median(runs[mode], "loop_cpu")
                    / n * 1000, "ms",
                    notes="the part one core must do in turn: past work bound / POMs, it sets "
                          "the wall time"),
            Measure(f"{mode}: requests per POM", requests / n, "req",
                    target="<= 1" if default else None, target_on="value"),
        ]
    measures.append(Measure("critical path", critical, "s",
                            notes=f"({max_depth} + 1) levels x {ROUND_TRIPS_PER_LEVEL} x latency"))
    if floor is not None:
        measures += [
            Measure("same run without latency", floor["wall"], "s",
                    notes=f"{MODES[0]}: stagekit's own cost alone"),
            Measure("CPU per POM without latency", floor["cpu"] / n * 1000, "ms",
                    notes=MODES[0]),
        ]
    details = {
        "poms": n, "latency": args.latency, "max_depth": max_depth, "repeats": repeats,
        "concurrency": concurrency, "runs": runs, "no_latency": floor,
        "critical_path": critical, "fsync_disabled": args.no_fsync,
    }
    report("maven_latency", args, measures, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
