"""Debian re-sync: exploring an unchanged archive again, against the first exploration.

The parent generates an archive with one ``Packages`` index of N stanzas (no ``.deb``
files; 60,000 by default, the size of a real main/amd64 index) and serves it on
127.0.0.1. A fresh subprocess explores it metadata-only into an empty store (the
baseline: index downloaded and parsed, N units saved), then explores it again into the
same store ``--repeats`` times (the Release fetched; the index neither downloaded, since
the store holds its digest, nor parsed, since the catalog holds its packages, which are
recorded in bulk). The ratios are the median re-sync's wall and CPU time (the process's,
threads included) over the first run's; the goal is under 10%.

    python benchmarks/deb_resync.py [--quick] [--packages N] [--repeats N]
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Measure, parse_args, report, run_measuring_rss


def worker(url: str, store_dir: str, repeats: str = "1") -> dict[str, Any]:
    """Explore into one store, then again ``repeats`` times; wall and CPU time, units and
    statuses of each run (``resync``: the median one by wall time)."""
    import stagekit
    from stagekit.remotes.deb import DebRemote

    async def once() -> dict[str, Any]:
        start, cpu = time.perf_counter(), time.process_time()
        run = await stagekit.explore(DebRemote(url, "stable"), store=store_dir,
                                     policy="metadata-only")
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        stats = run.stats
        run.store.close()
        return {"seconds": seconds, "cpu_seconds": cpu, "units": stats["units"],
                "statuses": stats["statuses"], "errors": stats["errors"],
                "bytes": stats["bytes"]}

    async def both() -> dict[str, Any]:
        first = await once()
        again = [await once() for _ in range(int(repeats))]
        again.sort(key=lambda r: r["seconds"])
        return {"first": first, "resync": again[len(again) // 2], "resyncs": again}

    return asyncio.run(both())


async def _measure(packages: int, repeats: int, limit: float) -> dict[str, Any]:
    from stagekit.testing import serve
    from stagekit.testing.debian import make_deb_repo

    repo = make_deb_repo(components=["main"], architectures=["amd64"], n_packages=packages,
                         with_debs=False, expected_release="InRelease")
    expected = len(repo.expected.units)
    with tempfile.TemporaryDirectory(prefix="stagekit-bench-resync-") as tmp:
        async with serve(repo) as server:
            cmd = [sys.executable, __file__, "--worker", server.url, str(Path(tmp) / "store"),
                   str(repeats)]
            out, _peak = await asyncio.to_thread(run_measuring_rss, cmd, timeout=limit)
            requests = dict(server.counters.by_path)
    result = json.loads(out.strip().splitlines()[-1])
    for name, one in [("first", result["first"]), *(("resync", r) for r in result["resyncs"])]:
        if one["units"] != expected or one["errors"]:
            raise AssertionError(f"{name}: expected {expected} units, no error: {one}")
    index = [p for p in requests if "/Packages" in p]
    if sum(requests[p] for p in index) != 1:
        raise AssertionError(f"the index was requested more than once: {index}")
    return {"packages": packages, **result, "index_requests": sum(requests[p] for p in index)}


def main(argv: list[str] | None = None) -> int:
    """Run both explorations in a subprocess, print the table, write the JSON."""
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--worker":
        print(json.dumps(worker(*argv[1:])))
        return 0

    def extra(parser: Any) -> None:
        parser.add_argument("--packages", type=int, default=None)
        parser.add_argument("--timeout", type=float, default=1800.0)

    args = parse_args(__doc__.splitlines()[0], argv, extra)
    packages = args.packages or (1_000 if args.quick else 60_000)
    repeats = args.repeats or (1 if args.quick else 3)
    details = asyncio.run(_measure(packages, repeats, args.timeout))
    first, resync = details["first"], details["resync"]
    measures = [
        Measure(f"deb: re-sync of an unchanged {packages:,}-package archive, wall time",
                resync["seconds"], "s", baseline=first["seconds"], target="< 0.1",
                notes="baseline = the first run into an empty store (index downloaded "
                      "and parsed); the index was requested once over both runs",
                extra={"resync_statuses": resync["statuses"],
                       "first_statuses": first["statuses"], "repeats": repeats}),
        Measure(f"deb: re-sync of an unchanged {packages:,}-package archive, CPU time",
                resync["cpu_seconds"], "s", baseline=first["cpu_seconds"], target="< 0.1",
                notes="process CPU time (threads included), same runs"),
    ]
    report("deb_resync", args, measures, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
