"""Pipeline overhead: N units through 6 no-op stages against a bare chain of asyncio.Queue.

Both sides move the same pre-built `DeclarativeContent` objects from a source through six
pass-through steps to a sink, over queues of the same maxsize, ending on a sentinel. The
ratio is stagekit's median over the bare chain's, for wall and for CPU time, at each queue
size of ``--maxsizes`` (default 1 and 100; target <= 1.3). ``--repeats`` is the number of
pairs (sides alternate). ``--profile`` also writes a cProfile of one stagekit run to
``results/pipeline.prof`` and prints its top entries.

    python benchmarks/bench_pipeline.py [--quick] [--items N] [--repeats N] [--maxsizes 1,100]
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Measure, Timing, paired, parse_args, report

from stagekit.models import Content, DeclarativeContent
from stagekit.pipeline import DEFAULT_MAXSIZE, Stage, create_pipeline

N_STAGES = 6
TARGET = "<= 1.3"


@dataclass(frozen=True, slots=True)
class Blob(Content):
    """A trivial unit."""

    kind = "bench.blob"
    n: int

    def natural_key(self) -> tuple[int]:
        """The number is the unit."""
        return (self.n,)


def make_items(n: int) -> list[DeclarativeContent]:
    """The units both sides move (built once, outside every timing)."""
    return [DeclarativeContent(Blob(i)) for i in range(n)]


# -- stagekit ---------------------------------------------------------------------------


class Source(Stage):
    """Puts the prepared units."""

    def __init__(self, items: list[DeclarativeContent]) -> None:
        self.source = items

    async def run(self) -> None:
        """Put every unit."""
        for dc in self.source:
            await self.put(dc)


class NoOp(Stage):
    """Passes every unit on, the way a plugin writer would write it."""

    async def run(self) -> None:
        """Pass through."""
        async for dc in self.items():
            await self.put(dc)


async def stagekit_once(items: list[DeclarativeContent], maxsize: int) -> float:
    """Seconds for the items to leave a source + 6 no-op stages + EndStage."""
    stages: list[Stage] = [Source(items), *(NoOp() for _ in range(N_STAGES))]
    start = time.perf_counter()
    await create_pipeline(stages, maxsize)
    elapsed = time.perf_counter() - start
    if stages[-1].items_out != len(items):
        raise AssertionError(f"stagekit moved {stages[-1].items_out} of {len(items)} items")
    return elapsed


# -- bare asyncio -----------------------------------------------------------------------

_END: Any = object()


async def _produce(items: list[DeclarativeContent], out: asyncio.Queue[Any]) -> None:
    for dc in items:
        await out.put(dc)
    await out.put(_END)


async def _relay(inq: asyncio.Queue[Any], out: asyncio.Queue[Any]) -> None:
    while True:
        item = await inq.get()
        await out.put(item)
        if item is _END:
            return


async def _drain(inq: asyncio.Queue[Any]) -> int:
    count = 0
    while (await inq.get()) is not _END:
        count += 1
    return count


async def bare_once(items: list[DeclarativeContent], maxsize: int) -> float:
    """Seconds for the same items through a producer, 6 relays and a sink on plain queues."""
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue(maxsize) for _ in range(N_STAGES + 1)]
    start = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(_produce(items, queues[0]))
        for i in range(N_STAGES):
            tg.create_task(_relay(queues[i], queues[i + 1]))
        sink = tg.create_task(_drain(queues[-1]))
    elapsed = time.perf_counter() - start
    if sink.result() != len(items):
        raise AssertionError(f"bare chain moved {sink.result()} of {len(items)} items")
    return elapsed


# -- measuring --------------------------------------------------------------------------


def compare(items: list[DeclarativeContent], maxsize: int, pairs: int
            ) -> tuple[Timing, Timing, list[float]]:
    """Time both sides ``pairs`` times, alternating which goes first so drift hits both."""
    return paired(lambda: asyncio.run(stagekit_once(items, maxsize)),
                  lambda: asyncio.run(bare_once(items, maxsize)), pairs)


def profile_stagekit(items: list[DeclarativeContent], maxsize: int, out_dir: Path,
                     top: int = 25) -> str:
    """cProfile one stagekit run; write ``pipeline.prof`` and return the top entries."""
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(stagekit_once(items, maxsize))
    profiler.disable()
    out_dir.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(out_dir / "pipeline.prof")
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return text.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Run the comparison per maxsize, print the table, write ``results/pipeline.json``."""

    def extra(parser: Any) -> None:
        parser.add_argument("--items", type=int, default=None)
        parser.add_argument("--maxsizes", default=f"1,{DEFAULT_MAXSIZE}",
                            help="comma-separated queue sizes, each compared separately")
        parser.add_argument("--profile", action="store_true")

    args = parse_args(__doc__.splitlines()[0], argv, extra)
    n = args.items or (5_000 if args.quick else 200_000)
    pairs = args.repeats or (1 if args.quick else 10)
    maxsizes = [int(m) for m in args.maxsizes.split(",")]
    items = make_items(n)
    measures: list[Measure] = []
    details: dict[str, Any] = {"items": n, "stages": N_STAGES, "pairs": pairs}
    for maxsize in maxsizes:
        asyncio.run(stagekit_once(items[: min(n, 1000)], maxsize))  # warm imports and caches
        ours, bare, ratios = compare(items, maxsize, pairs)
        ours_cpu, bare_cpu = ours.cpu_median or 0.0, bare.cpu_median or 0.0
        measures.append(Measure(
            f"pipeline: {n:,} items x {N_STAGES} no-op stages, maxsize {maxsize}, wall",
            ours.median, "s", baseline=bare.median, target=TARGET,
            notes=f"median of {pairs} pairs; bare = asyncio.Queue chain",
            extra={"median_pair_ratio": statistics.median(ratios),
                   "us_per_item_per_stage": ours.median / n / N_STAGES * 1e6,
                   "bare_us_per_item_per_stage": bare.median / n / N_STAGES * 1e6}))
        measures.append(Measure(
            f"pipeline: {n:,} items x {N_STAGES} no-op stages, maxsize {maxsize}, CPU",
            ours_cpu, "s", baseline=bare_cpu or None, target=TARGET,
            notes=f"median of {pairs} pairs; process CPU time"))
        details[f"maxsize_{maxsize}"] = {
            "stagekit_seconds": ours.samples, "bare_seconds": bare.samples,
            "stagekit_cpu": ours.cpu, "bare_cpu": bare.cpu, "pair_ratios": ratios,
            "median_pair_ratio": statistics.median(ratios),
        }
        if args.profile:
            details[f"maxsize_{maxsize}"]["profile_top"] = profile_stagekit(
                items, maxsize, Path(args.out))
            print(details[f"maxsize_{maxsize}"]["profile_top"])
    report("pipeline", args, measures, details)
    for maxsize in maxsizes:
        d = details[f"maxsize_{maxsize}"]
        print(f"maxsize {maxsize}: median pair ratio {d['median_pair_ratio']:.2f}; "
              f"wall ratios {', '.join(f'{r:.2f}' for r in d['pair_ratios'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
