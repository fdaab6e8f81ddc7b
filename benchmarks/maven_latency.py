"""Maven discovery under latency: wall time against the critical path and the work bound.

A generated repository of N POMs (5,000 by default, `scenario_wide`) is served with
``latency(L)`` on every request (20 ms by default) and explored with `MavenRemote`,
policy metadata-only, default download settings. The server runs on its own event loop in
a forked process so that its work (and its share of the GIL) is not the explorer's.

- critical path = (max depth + 1) x round trips per level x L: a level costs one round
  trip here (a POM and its sidecars are requested together), the roots are level 0;
- work bound = requests / concurrency x L, concurrency being the per-host connection limit
  (every request goes to one host);
- target: wall time <= 1.2 x the larger of the two.

A second run without latency gives the floor that the pipeline and the store cost on
their own (parsing, catalog, fsyncs), to tell where time goes when the target is missed;
``--no-fsync`` (a diagnostic) makes ``os.fsync`` free to show the share of the store's fsyncs.

    python benchmarks/maven_latency.py [--quick] [--poms N] [--latency S] [--repeats N]
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
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


def explore_once(repo: MavenRepo, seconds: float) -> dict[str, Any]:
    """One metadata-only exploration; wall time, request count and the answer's check."""
    with served_in_process(repo, seconds) as (url, counters), \
            tempfile.TemporaryDirectory(prefix="maven-bench-") as store:
        remote = MavenRemote(url, repo.roots)
        started = time.perf_counter()
        cpu_started = time.process_time()
        run = stagekit.explore_sync(remote, store=store, policy="metadata-only")
        cpu = time.process_time() - cpu_started
        wall = time.perf_counter() - started
    if run.errors:
        raise SystemExit(f"the exploration failed units: {run.errors[:3]}")
    if run.depths() != repo.expected.depths():
        raise SystemExit("the exploration did not find the expected units and depths")
    if run.records.edge_set() != repo.expected.edges:
        raise SystemExit("the exploration did not find the expected edges")
    return {"wall": wall, "cpu": cpu, "requests": counters["total"],
            "max_in_flight": counters["max_in_flight"],
            "units": len(run.depths()), "stats_elapsed": run.stats["elapsed"]}


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
    repeats = args.repeats or 1
    repo = scenario_wide(n)
    config = DownloadConfig()
    concurrency = min(config.total, config.per_host)
    max_depth = max(repo.expected.depths().values())

    runs = [explore_once(repo, args.latency) for _ in range(repeats)]
    best = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]  # the median run
    critical = (max_depth + 1) * ROUND_TRIPS_PER_LEVEL * args.latency
    work = best["requests"] / concurrency * args.latency
    one_request = n / concurrency * args.latency
    bound = max(critical, work)
    floor = None if args.no_floor else explore_once(repo, 0.0)

    measures = [
        Measure(f"wall, {n} POMs, {args.latency * 1000:g} ms/request", best["wall"], "s",
                baseline=bound, target=TARGET,
                notes=f"median of {repeats}; baseline = max(critical path, work bound)"),
        Measure(f"wall vs one request per POM, {n} POMs", best["wall"], "s",
                baseline=max(critical, one_request), target="<= 1.2",
                notes="baseline = max(critical path, POMs / connections x latency)"),
        Measure("CPU per POM", best["cpu"] / n * 1000, "ms", target="<= 1.5",
                target_on="value", notes="process CPU time of the run / POMs"),
        Measure("critical path", critical, "s",
                notes=f"({max_depth} + 1) levels x {ROUND_TRIPS_PER_LEVEL} x latency"),
        Measure("work bound", work, "s",
                notes=f"{best['requests']} requests / {concurrency} connections x latency"),
        Measure("requests per POM", best["requests"] / n, "req"),
    ]
    if floor is not None:
        measures.append(Measure("same run without latency", floor["wall"], "s",
                                notes="pipeline + store cost alone"))
    details = {
        "poms": n, "latency": args.latency, "max_depth": max_depth,
        "concurrency": concurrency, "runs": runs, "no_latency": floor,
        "critical_path": critical, "work_bound": work, "fsync_disabled": args.no_fsync,
    }
    report("maven_latency", args, measures, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
