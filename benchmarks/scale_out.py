"""Scale-out: the CPU-bound Maven run on 1 process vs 2 Dask workers, and the coordinator's ceiling.

1. A generated Maven repository (``scenario_wide``, 5,000 POMs by default) served with
   20 ms latency from a forked process, explored metadata-only once in this process and
   once with ``cluster=`` a LocalCluster of 2 worker processes (1 thread each, scheduler
   and workers in a process of their own): the ratio is one-process wall / cluster wall
   (goal >= 1.7 on 2 cores). CPU time is reported next to it: this process's (the
   coordinator's) and the workers'.
2. The coordinator's ceiling: `NoopTree` (units with no artifacts, no I/O, discovery
   that does no work) on the same cluster: units per second the coordinator dispatches
   to the workers and absorbs back (goal >= 20,000/s), next to the same tree in one
   process, and the coordinator's CPU time per unit (what bounds it on a quiet machine).
   The CPU time of the scheduler's process and of the workers is printed next to it.

    python benchmarks/scale_out.py [--quick] [--poms N] [--latency S] [--noop N]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Measure, parse_args, report
from maven_latency import served_in_process

import stagekit
from stagekit.remotes.maven import MavenRemote
from stagekit.testing.maven import MavenRepo, scenario_wide
from stagekit.testing.noop import NoopTree

_CLUSTER = """
import sys
from distributed import LocalCluster
with LocalCluster(n_workers=int(sys.argv[1]), threads_per_worker=1, processes=True,
                  dashboard_address=None, host="127.0.0.1") as cluster:
    print(cluster.scheduler_address, flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def cluster_elsewhere(workers: int) -> Iterator[str]:
    """A scheduler and ``workers`` worker processes in a process of their own.

    As on a real cluster, the scheduler's CPU is not the coordinator's: this process
    measures the coordinator alone.
    """
    process = subprocess.Popen([sys.executable, "-c", _CLUSTER, str(workers)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        address = process.stdout.readline().strip()
        if not address:
            raise SystemExit("the Dask cluster did not start")
        yield address
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=60)


def _check(run: Any, repo: MavenRepo) -> None:
    if run.errors:
        raise SystemExit(f"the exploration failed units: {run.errors[:3]}")
    if run.depths() != repo.expected.depths() or run.records.edge_set() != repo.expected.edges:
        raise SystemExit("the exploration did not find the expected units, depths and edges")


async def _workers_cpu(client: Any) -> float:
    if client is None:
        return 0.0
    return float(sum((await client.run(time.process_time)).values()))


async def _scheduler_cpu(client: Any) -> float:
    """The CPU time of the process holding the scheduler (the worker processes are apart)."""
    if client is None:
        return 0.0
    return float(await client.run_on_scheduler(time.process_time))


async def _explore(remote: Any, cluster: Any, policy: str = "metadata-only"
                   ) -> tuple[Any, dict[str, float]]:
    """The run, its wall time, this process's CPU time and the workers' CPU time."""
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as store:
        workers0, scheduler0 = await _workers_cpu(cluster), await _scheduler_cpu(cluster)
        cpu0, started = time.process_time(), time.perf_counter()
        run = await stagekit.explore(remote, store=store, policy=policy, cluster=cluster)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
        workers = await _workers_cpu(cluster) - workers0
        scheduler = await _scheduler_cpu(cluster) - scheduler0
        return run, {"wall": wall, "cpu": cpu, "workers_cpu": workers,
                     "scheduler_cpu": scheduler}


async def _measure(repo: MavenRepo, url: str, noop: int, address: str) -> dict[str, Any]:
    from distributed import Client

    remote = MavenRemote(url, repo.roots)
    tree = NoopTree(noop)
    out: dict[str, Any] = {}
    async with Client(address, asynchronous=True) as client:
        await _explore(NoopTree(50), client)  # warm up: every worker imports stagekit
        # Interleaved: one process, cluster, one process, cluster...
        run, out["alone"] = await _explore(remote, None)
        _check(run, repo)
        run, out["spread"] = await _explore(remote, client)
        _check(run, repo)
        run, out["noop_alone"] = await _explore(tree, None)
        assert len(run.depths()) == noop
        run, out["noop_spread"] = await _explore(tree, client)
        assert len(run.depths()) == noop
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``results/scale_out.json``."""
    def extra(parser: Any) -> None:
        parser.add_argument("--poms", type=int, default=None, help="POMs in the repository")
        parser.add_argument("--latency", type=float, default=0.02, help="seconds per request")
        parser.add_argument("--noop", type=int, default=None, help="units of the no-op tree")
        parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")

    args = parse_args(__doc__.splitlines()[0], argv, extra)
    n = args.poms or (100 if args.quick else 5000)
    noop = args.noop or (1000 if args.quick else 50_000)
    repo = scenario_wide(n)
    with served_in_process(repo, args.latency) as (url, _counters), \
            cluster_elsewhere(args.workers) as address:
        t = asyncio.run(_measure(repo, url, noop, address))
    alone, spread, na, ns = t["alone"], t["spread"], t["noop_alone"], t["noop_spread"]
    measures = [
        Measure(f"Maven {n} POMs, {args.latency * 1000:g} ms: 1 process / {args.workers} "
                "workers (wall)", alone["wall"] / spread["wall"], "x", target=">= 1.7",
                target_on="value",
                notes=(f"1 process {alone['wall']:.1f} s wall, {alone['cpu']:.1f} s CPU; "
                       f"cluster {spread['wall']:.1f} s wall, coordinator "
                       f"{spread['cpu']:.1f} s CPU, workers {spread['workers_cpu']:.1f} s CPU, "
                       f"scheduler {spread['scheduler_cpu']:.1f} s CPU")),
        Measure(f"coordinator ceiling, no-op workers ({noop} units, wall)", noop / ns["wall"],
                "units/s", baseline=noop / na["wall"], target=">= 20000", target_on="value",
                notes="baseline = the same tree in one process"),
        Measure("coordinator CPU per unit, no-op workers", ns["cpu"] / noop * 1e6, "us/unit",
                baseline=na["cpu"] / noop * 1e6,
                notes=(f"= {noop / ns['cpu']:,.0f} units per coordinator CPU-second; "
                       "baseline = one process doing all the work; workers "
                       f"{ns['workers_cpu'] / noop * 1e6:.0f} us, scheduler "
                       f"{ns['scheduler_cpu'] / noop * 1e6:.0f} us per unit")),
    ]
    details: dict[str, Any] = {k: {m: round(x, 3) for m, x in v.items()} for k, v in t.items()}
    # Wall figures on a shared machine say little without it.
    details["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at the end: {details['load_average']}")
    report("scale_out", args, measures, details=details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
