"""Live view overhead: the same N-unit run with and without a `RunWidget` refreshing it.

Both sides explore a flat remote of N units without artifacts (no network) into a fresh
store through the default stages; the "live" side attaches `stagekit.notebook.RunWidget`
(ten refreshes a second, as in a notebook; outside a kernel its messages go to a dummy
comm, but every refresh still reads the stats and sets and serialises the widgets). The
"graph" side also opens the view's Graph tab (the interactive graph, following the run).
The ratios are live over plain and graph over plain (target <= 1.05). The sides rotate
from one repeat to the next (no order bias), best of ``--repeats``.

    python benchmarks/live_view.py [--quick] [--units N] [--repeats N]
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Measure, Timing, parse_args, report

import stagekit
from stagekit import Remote
from stagekit.models import Content, DeclarativeContent
from stagekit.notebook import RunWidget

TARGET = "<= 1.05"


@dataclass(frozen=True, slots=True)
class Unit(Content):
    """A trivial unit."""

    kind = "bench.unit"
    n: int

    def natural_key(self) -> tuple[int]:
        return (self.n,)


class Flat(Remote):
    """``n`` root units without artifacts."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    async def roots(self, ctx):  # type: ignore[override]
        for i in range(self.n):
            yield DeclarativeContent(Unit(i))

    def has_children(self, dc: DeclarativeContent) -> bool:
        return False


@dataclass(slots=True)
class Sample:
    """One run: wall and CPU seconds, the view's refreshes and the time spent in them."""

    wall: float
    cpu: float
    refreshes: int = 0
    in_view: float = 0.0


async def one_run(n: int, live: bool, graph: bool = False) -> Sample:
    """Run ``n`` units into a fresh store, with or without the view (and its Graph tab)."""
    where = tempfile.mkdtemp(prefix="stagekit-bench-")
    try:
        in_view = 0.0
        wall, cpu = time.perf_counter(), time.process_time()
        run = stagekit.start(Flat(n), store=where)
        widget = RunWidget(run) if live else None
        if widget is not None:
            update = widget.update

            def timed_update() -> None:
                nonlocal in_view
                began = time.perf_counter()
                update()
                in_view += time.perf_counter() - began

            widget.update = timed_update  # type: ignore[method-assign]
            if graph:
                widget.show_graph_tab()
        await run
        sample = Sample(time.perf_counter() - wall, time.process_time() - cpu)
        if widget is not None:
            await widget.wait_final()
            assert widget.bars["EndStage"].value == n
            if graph:
                assert len(widget.graph.data["keys"]) == n and not widget.graph.refreshing
            sample.refreshes, sample.in_view = widget.updates, in_view
        run.store.close()
        return sample
    finally:
        shutil.rmtree(where, ignore_errors=True)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], extra=lambda p: p.add_argument(
        "--units", type=int, default=None, help="units per run (default 50,000)"))
    n = args.units or (5_000 if args.quick else 50_000)
    repeats = args.repeats or (2 if args.quick else 3)
    sides: dict[str, list[Sample]] = {"plain": [], "live": [], "graph": []}
    names = list(sides)
    for i in range(repeats):
        for name in names[i % 3:] + names[:i % 3]:  # each side first in turn
            sides[name].append(asyncio.run(one_run(n, live=name != "plain",
                                                   graph=name == "graph")))
    plain, live, graph = sides["plain"], sides["live"], sides["graph"]
    wall = Timing([s.wall for s in live]), Timing([s.wall for s in plain])
    cpu = Timing([s.cpu for s in live]), Timing([s.cpu for s in plain])
    # Periodic refreshes only: the first (at creation) and the final one are extra.
    rate = max((s.refreshes - 2) / s.wall for s in live)
    share = max(s.in_view / s.wall for s in live)
    measures = [
        Measure(f"{n:,}-unit run with the live view, CPU time", cpu[0].best, "s",
                baseline=cpu[1].best, target=TARGET,
                notes="baseline: the same run without the view; CPU time of the process "
                      "(threads included), less disturbed by other load than wall time"),
        Measure(f"{n:,}-unit run with the live view and its Graph tab open, CPU time",
                Timing([s.cpu for s in graph]).best, "s", baseline=cpu[1].best, target=TARGET,
                notes="the interactive graph follows the run (LiveSnapshot), as in a notebook"),
        Measure(f"{n:,}-unit run with the live view, wall time", wall[0].best, "s",
                baseline=wall[1].best, target=TARGET, notes="best of the repeats"),
        Measure("time spent refreshing the view, share of the run", share, "", target="<= 0.05",
                target_on="value", notes="sum of RunWidget.update durations / wall time"),
        Measure("live view refreshes per second", rate, "1/s", target="<= 10",
                target_on="value", notes="bounded by the 0.1 s tick, whatever N"),
    ]
    details = {"units": n, "repeats": repeats, **{k: [asdict(s) for s in v]
                                                  for k, v in sides.items()}}
    report("live_view", args, measures, details=details)


if __name__ == "__main__":
    main()
