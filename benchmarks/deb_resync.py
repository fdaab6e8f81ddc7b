"""Debian re-sync: exploring an unchanged archive again, against the first exploration.

The parent generates an archive with one ``Packages`` index of N stanzas (no ``.deb``
files) and serves it on 127.0.0.1. A fresh subprocess explores it metadata-only into an
empty store (the baseline: index downloaded and parsed, N units saved), then explores it
again into the same store (the Release fetched; the index neither downloaded, since the
store holds its digest, nor parsed, since the catalog holds its packages). The ratio is
the re-sync's wall time over the first run's; the goal is under 10%.

    python benchmarks/deb_resync.py [--quick] [--packages N]
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


def worker(url: str, store_dir: str) -> dict[str, Any]:
    """Explore twice into one store; the wall time, units and statuses of each run."""
    import stagekit
    from stagekit.remotes.deb import DebRemote

    async def once() -> tuple[Any, float]:
        start = time.perf_counter()
        run = await stagekit.explore(DebRemote(url, "stable"), store=store_dir,
                                     policy="metadata-only")
        return run, time.perf_counter() - start

    async def both() -> dict[str, Any]:
        out = {}
        for name in ("first", "resync"):
            run, seconds = await once()
            stats = run.stats
            out[name] = {"seconds": seconds, "units": stats["units"],
                         "statuses": stats["statuses"], "errors": stats["errors"],
                         "bytes": stats["bytes"]}
            run.store.close()
        return out

    return asyncio.run(both())


async def _measure(packages: int, limit: float) -> dict[str, Any]:
    from stagekit.testing import serve
    from stagekit.testing.debian import make_deb_repo

    repo = make_deb_repo(components=["main"], architectures=["amd64"], n_packages=packages,
                         with_debs=False, expected_release="InRelease")
    expected = len(repo.expected.units)
    with tempfile.TemporaryDirectory(prefix="stagekit-bench-resync-") as tmp:
        async with serve(repo) as server:
            cmd = [sys.executable, __file__, "--worker", server.url, str(Path(tmp) / "store")]
            out, _peak = await asyncio.to_thread(run_measuring_rss, cmd, timeout=limit)
            requests = dict(server.counters.by_path)
    result = json.loads(out.strip().splitlines()[-1])
    for name in ("first", "resync"):
        if result[name]["units"] != expected or result[name]["errors"]:
            raise AssertionError(f"{name}: expected {expected} units, no error: {result[name]}")
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
    packages = args.packages or (1_000 if args.quick else 20_000)
    details = asyncio.run(_measure(packages, args.timeout))
    first, resync = details["first"], details["resync"]
    measures = [
        Measure(f"deb: re-sync of an unchanged {packages:,}-package archive, wall time",
                resync["seconds"], "s", baseline=first["seconds"], target="< 0.1",
                notes="baseline = the first run into an empty store (index downloaded "
                      "and parsed); the index was requested once over both runs",
                extra={"resync_statuses": resync["statuses"],
                       "first_statuses": first["statuses"]}),
    ]
    report("deb_resync", args, measures, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
