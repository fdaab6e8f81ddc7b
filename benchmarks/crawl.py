"""Crawl of a tree of web pages: stagekit against a bare aiohttp crawler, 10 and 100 per host.

A tree of 5,461 HTML pages (fanout 4, depth 6; `stagekit.testing.crawl`) is served with
``latency(L)`` on every request (20 ms by default) from a forked process (its CPU is not
the crawler's). Each page names its children's URLs (and their sha256). Three crawlers,
run in rounds whose order rotates, each with the same per-host connection limit:

- bare: aiohttp, BFS from a queue, as many workers as the per-host limit, a connector
  with that limit; reads each page and its links, nothing else;
- metadata-only: `PageCrawler` declares each page as a unit without artifacts and reads
  it through the run's downloader (`RunContext.get_bytes`) when it explores it;
- stored: `PageCrawler(store_pages=True)`: each page is its unit's artifact, downloaded,
  verified against the digest its parent gave, stored, then parsed from the store.

Both stagekit runs go through the default stages into a fresh store, with
``DownloadConfig(per_host=N)``. The goal is on the median of the per-round ratios
(stagekit wall / bare wall of the same round): at 100 per host, metadata-only <= 1.2x and
stored <= 1.5x; at 10 per host both <= 1.05x. CPU per page is the process CPU time of
the run (user + system of this process: the server is another one) over the pages.

    python benchmarks/crawl.py [--quick] [--repeats N] [--per-host 10,100]
        [--modes bare,metadata,stored] [--fanout 4] [--depth 6] [--latency S]
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Measure, parse_args, report
from maven_latency import served_in_process

import stagekit
from stagekit.download import DownloadConfig
from stagekit.testing import assert_run_matches
from stagekit.testing.crawl import LINK, PageCrawler, PageTree, make_page_tree

MODES = ("bare", "metadata", "stored")
TARGETS = {100: {"metadata": "<= 1.2", "stored": "<= 1.5"},
           10: {"metadata": "<= 1.05", "stored": "<= 1.05"}}
LABELS = {"metadata": "metadata-only", "stored": "pages stored"}


async def bare_crawl(root_url: str, per_host: int, total: int) -> int:
    """Crawl from ``root_url`` with plain aiohttp; returns the pages read."""
    connector = aiohttp.TCPConnector(limit=total, limit_per_host=per_host)
    async with aiohttp.ClientSession(connector=connector) as session:
        queue: asyncio.Queue[str] = asyncio.Queue()
        queue.put_nowait(root_url)
        seen = {root_url}
        read = 0

        async def worker() -> None:
            nonlocal read
            while True:
                url = await queue.get()
                try:
                    async with session.get(url) as response:
                        response.raise_for_status()
                        body = await response.read()
                    read += 1
                    for href, _sha in LINK.findall(body):
                        child = urljoin(url, href.decode())
                        if child not in seen:
                            seen.add(child)
                            queue.put_nowait(child)
                finally:
                    queue.task_done()

        workers = [asyncio.create_task(worker()) for _ in range(per_host)]
        try:
            await queue.join()
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
    return read


def crawl_once(tree: PageTree, mode: str, per_host: int, seconds: float) -> dict[str, Any]:
    """One crawl in ``mode`` against a freshly forked server: wall, CPU, requests."""
    total = max(100, per_host)
    with served_in_process(tree, seconds) as (url, counters), \
            tempfile.TemporaryDirectory(prefix="crawl-bench-") as store:
        run = None
        gc.collect()
        load = os.getloadavg()[0]
        started, cpu_started = time.perf_counter(), time.process_time()
        if mode == "bare":
            pages = asyncio.run(asyncio.wait_for(bare_crawl(url, per_host, total), 600))
        else:
            crawler = PageCrawler(url, store_pages=mode == "stored")
            run = stagekit.explore_sync(
                crawler, store=store, policy="immediate" if mode == "stored" else "metadata-only",
                download_config=DownloadConfig(per_host=per_host, total=total))
            pages = len(run.depths())
        cpu = time.process_time() - cpu_started
        wall = time.perf_counter() - started
        if run is not None:
            try:
                assert_run_matches(run, tree.expected_for(mode == "stored"))
            except AssertionError as exc:
                raise SystemExit(f"{mode}, {per_host}/host: wrong answer: {exc}") from None
    if pages != tree.pages or counters["total"] != tree.pages:
        raise SystemExit(f"{mode}, {per_host}/host: {pages} pages read, {counters['total']} "
                         f"requests, expected {tree.pages} of each")
    return {"wall": wall, "cpu": cpu, "requests": counters["total"],
            "max_in_flight": counters["max_in_flight"], "load": load}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``results/crawl.json``."""
    def extra(parser: Any) -> None:
        parser.add_argument("--fanout", type=int, default=4)
        parser.add_argument("--depth", type=int, default=None, help="6 (3 with --quick)")
        parser.add_argument("--latency", type=float, default=0.02, help="seconds per page")
        parser.add_argument("--per-host", default="10,100", help="per-host limits to measure")
        parser.add_argument("--modes", default=",".join(MODES),
                            help="crawlers to run (bare is the baseline of the ratios)")

    args = parse_args(__doc__.splitlines()[0], argv, extra)
    depth = args.depth if args.depth is not None else (3 if args.quick else 6)
    repeats = args.repeats or (1 if args.quick else 5)
    limits = [int(n) for n in args.per_host.split(",") if n]
    modes = [m for m in MODES if m in args.modes.split(",")]
    tree = make_page_tree(args.fanout, depth)
    n = tree.pages

    if not args.quick:  # warm-up: imports and first-call costs are no round's
        small = make_page_tree(args.fanout, 1)
        for mode in modes:
            crawl_once(small, mode, limits[0], 0.0)
    runs: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for per_host in limits:
        runs[per_host] = {mode: [] for mode in modes}
        for i in range(repeats):  # rounds; the order rotates so no crawler always goes first
            for mode in modes[i % len(modes):] + modes[:i % len(modes)]:
                runs[per_host][mode].append(crawl_once(tree, mode, per_host, args.latency))
                print(f"{per_host}/host round {i + 1} {mode}: "
                      f"{runs[per_host][mode][-1]['wall']:.2f} s", file=sys.stderr, flush=True)

    measures = []
    details: dict[str, Any] = {"pages": n, "fanout": args.fanout, "depth": depth,
                               "latency": args.latency, "repeats": repeats, "runs": runs}
    for per_host, by_mode in runs.items():
        where = f"crawl {n:,} pages, {per_host}/host"
        work = max((depth + 1) * args.latency, n / per_host * args.latency)
        bare = by_mode.get("bare")
        loads = [r["load"] for rs in by_mode.values() for r in rs]
        note = f"median of {repeats} rounds; load average {min(loads):.1f}-{max(loads):.1f}"
        if bare:
            measures.append(Measure(
                f"{where}: bare aiohttp wall vs work bound", statistics.median(
                    r["wall"] for r in bare), "s", baseline=work,
                notes=f"{n} pages / {per_host} connections x latency; {note}"))
        for mode in ("metadata", "stored"):
            if mode not in by_mode:
                continue
            ours = by_mode[mode]
            wall = statistics.median(r["wall"] for r in ours)
            cpu = statistics.median(r["cpu"] for r in ours) / n * 1e6
            label = f"{where}, {LABELS[mode]}"
            if bare:
                pair_ratios = [a["wall"] / b["wall"] for a, b in zip(ours, bare, strict=True)]
                measures += [
                    Measure(f"{label}: wall ratio vs bare (median of rounds)",
                            statistics.median(pair_ratios), "x",
                            target=TARGETS.get(per_host, {}).get(mode), target_on="value",
                            notes=note, extra={"pair_ratios": pair_ratios}),
                    Measure(f"{label}: wall (median)", wall, "s",
                            baseline=statistics.median(r["wall"] for r in bare), notes=note),
                    Measure(f"{label}: CPU per page", cpu, "us",
                            baseline=statistics.median(r["cpu"] for r in bare) / n * 1e6,
                            notes="process CPU time / pages; baseline: the bare crawler's"),
                ]
            else:
                measures += [Measure(f"{label}: wall (median)", wall, "s", notes=note),
                             Measure(f"{label}: CPU per page", cpu, "us", notes=note)]
    report("crawl", args, measures, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
