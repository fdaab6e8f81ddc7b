"""Scale-out: the CPU-bound Maven run on 1 process vs 2 Dask workers, and the coordinator's ceiling.

1. A generated Maven repository (``scenario_wide``, 5,000 POMs by default) served with
   20 ms latency from a forked process, explored metadata-only once in this process and
   once with ``cluster=`` a LocalCluster of 2 worker processes (1 thread each): the
   ratio is one-process wall / cluster wall (goal >= 1.7 on 2 cores).
2. The coordinator's ceiling: `NoopTree` (units with no artifacts, no I/O, discovery
   that does no work) on the same cluster: units per second the coordinator dispatches
   to the workers and absorbs back (goal >= 20,000/s), next to the same tree in one
   process.

    python benchmarks/scale_out.py [--quick] [--poms N] [--latency S] [--noop N]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Measure, parse_args, report
from maven_latency import served_in_process

import stagekit
from stagekit.remotes.maven import MavenRemote
from stagekit.testing.maven import MavenRepo, scenario_wide
from stagekit.testing.noop import NoopTree


def _check(run: Any, repo: MavenRepo) -> None:
    if run.errors:
        raise SystemExit(f"the exploration failed units: {run.errors[:3]}")
    if run.depths() != repo.expected.depths() or run.records.edge_set() != repo.expected.edges:
        raise SystemExit("the exploration did not find the expected units, depths and edges")


async def _explore(remote: Any, cluster: Any, policy: str = "metadata-only") -> tuple[Any, float]:
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as store:
        started = time.perf_counter()
        run = await stagekit.explore(remote, store=store, policy=policy, cluster=cluster)
        return run, time.perf_counter() - started


async def _measure(repo: MavenRepo, url: str, noop: int, workers: int) -> dict[str, float]:
    from distributed import Client, LocalCluster

    remote = MavenRemote(url, repo.roots)
    run, alone = await _explore(remote, None)
    _check(run, repo)
    tree = NoopTree(noop)
    run, noop_alone = await _explore(tree, None)
    assert len(run.depths()) == noop
    async with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                            asynchronous=True, dashboard_address=None,
                            host="127.0.0.1") as cluster, \
            Client(cluster, asynchronous=True) as client:
        await _explore(NoopTree(50), client)  # warm up: workers import stagekit
        run, spread = await _explore(remote, client)
        _check(run, repo)
        run, noop_spread = await _explore(tree, client)
        assert len(run.depths()) == noop
    return {"alone": alone, "spread": spread, "noop_alone": noop_alone,
            "noop_spread": noop_spread}


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
    with served_in_process(repo, args.latency) as (url, _counters):
        t = asyncio.run(_measure(repo, url, noop, args.workers))
    measures = [
        Measure(f"Maven {n} POMs, {args.latency * 1000:g} ms: 1 process / {args.workers} "
                "workers", t["alone"] / t["spread"], "x", target=">= 1.7", target_on="value",
                notes=f"1 process {t['alone']:.1f} s, cluster {t['spread']:.1f} s"),
        Measure(f"coordinator ceiling, no-op workers ({noop} units)", noop / t["noop_spread"],
                "units/s", baseline=noop / t["noop_alone"], target=">= 20000",
                target_on="value", notes="baseline = the same tree in one process"),
    ]
    report("scale_out", args, measures, details={k: round(v, 3) for k, v in t.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
