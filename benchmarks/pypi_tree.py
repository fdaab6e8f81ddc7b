"""PyPI discovery under latency: units per second on a generated dependency tree.

A generated index whose tree under ``tree-0`` has N chosen releases (5,000 by default,
two versions per project, so 10,000 releases listed) is served with ``latency(L)`` on every
request (20 ms by default) from a forked process, and explored with `PyPIRemote`, policy
metadata-only, default download settings. The same bound as the Maven benchmark:

- critical path = (max depth + 1) x round trips per level x L: a level costs two round
  trips (the project page, asked by the parent's exploration, then the ``.metadata`` file);
- work bound = requests / concurrency x L, concurrency being the per-host connection limit;
- target: wall time <= 1.2 x the larger of the two.

    python benchmarks/pypi_tree.py [--quick] [--releases N] [--latency S] [--repeats N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Measure, parse_args, report
from maven_latency import served_in_process

import stagekit
from stagekit.download import DownloadConfig
from stagekit.remotes.pypi import PyPIRemote
from stagekit.testing.pypi import PyPIRepo, make_pypi_repo

TARGET = "<= 1.2"
ROUND_TRIPS_PER_LEVEL = 2


def explore_once(repo: PyPIRepo, seconds: float) -> dict[str, Any]:
    """One metadata-only exploration; wall time, request count and the answer's check."""
    with served_in_process(repo, seconds) as (url, counters), \
            tempfile.TemporaryDirectory(prefix="pypi-bench-") as store:
        remote = PyPIRemote(url, repo.roots)
        started = time.perf_counter()
        run = stagekit.explore_sync(remote, store=store, policy="metadata-only")
        wall = time.perf_counter() - started
    if run.errors:
        raise SystemExit(f"the exploration failed units: {run.errors[:3]}")
    graph = run.graph
    depths = {key: data["depth"] for key, data in graph.nodes(data=True)}
    if depths != repo.expected.depths():
        raise SystemExit("the exploration did not find the expected units and depths")
    if {(p, c, d["relation"]) for p, c, d in graph.edges(data=True)} != repo.expected.edges:
        raise SystemExit("the exploration did not find the expected edges")
    return {"wall": wall, "requests": counters["total"],
            "max_in_flight": counters["max_in_flight"], "units": len(depths)}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``results/pypi_tree.json``."""
    def extra(parser: Any) -> None:
        parser.add_argument("--releases", type=int, default=None, help="releases in the tree")
        parser.add_argument("--latency", type=float, default=0.02, help="seconds per request")
        parser.add_argument("--no-floor", action="store_true", help="skip the run without latency")

    args = parse_args(__doc__.splitlines()[0], argv, extra)
    n = args.releases or (200 if args.quick else 5000)
    repeats = args.repeats or 1
    repo = make_pypi_repo(n_releases=n, depth=6, fanout=4, versions=2)
    config = DownloadConfig()
    concurrency = min(config.total, config.per_host)
    max_depth = max(repo.expected.depths().values())

    runs = [explore_once(repo, args.latency) for _ in range(repeats)]
    best = min(runs, key=lambda r: r["wall"])
    critical = (max_depth + 1) * ROUND_TRIPS_PER_LEVEL * args.latency
    work = best["requests"] / concurrency * args.latency
    bound = max(critical, work)
    floor = None if args.no_floor else explore_once(repo, 0.0)

    measures = [
        Measure(f"wall, {n} releases, {args.latency * 1000:g} ms/request", best["wall"], "s",
                baseline=bound, target=TARGET,
                notes="baseline = max(critical path, work bound)"),
        Measure("units per second", best["units"] / best["wall"], "units/s",
                baseline=best["units"] / bound, notes="baseline = units / bound"),
        Measure("critical path", critical, "s",
                notes=f"({max_depth} + 1) levels x {ROUND_TRIPS_PER_LEVEL} x latency"),
        Measure("work bound", work, "s",
                notes=f"{best['requests']} requests / {concurrency} connections x latency"),
        Measure("requests per release", best["requests"] / n, "req"),
    ]
    if floor is not None:
        measures.append(Measure("same run without latency", floor["wall"], "s",
                                notes="pipeline + store cost alone"))
    details = {
        "releases": n, "latency": args.latency, "max_depth": max_depth,
        "concurrency": concurrency, "runs": runs, "no_latency": floor,
        "critical_path": critical, "work_bound": work,
    }
    report("pypi_tree", args, measures, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
