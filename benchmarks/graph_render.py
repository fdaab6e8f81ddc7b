"""The interactive graph: first render and panning in Chromium, and its cost on a live run.

In the browser (Debian's ``chromium`` driven by Playwright, when both are installed): the
offline page of `stagekit.notebook.graph_html` for a layered graph of N units (every unit
drawn, no aggregation) is opened from disk; *first render* is the time from navigation
to the first frame drawn after the graph was built; *frame time* is the mean time per
frame while the camera pans for 60 frames. Headless Chromium here renders WebGL in
software (SwiftShader), so the frame times are an upper bound for a machine with a GPU.

On the run: the same flat run of N units with and without the interactive graph attached
(its adaptive refresh, as in a notebook), CPU time; target <= 1.05.

    python benchmarks/graph_render.py [--quick] [--sizes 5000,50000] [--units N]
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import networkx as nx
from _common import Measure, Timing, parse_args, report
from live_view import Flat

import stagekit
from stagekit.notebook import graph_html, graph_widget

TARGET = "<= 1.05"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

_COUNT_FRAMES = """() => {
  window.__frames = [];
  const tick = (t) => { window.__frames.push(t); if (!window.__stop) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""
_FRAME_TIME = """() => {
  window.__stop = true;
  const f = window.__frames;
  return f.length > 1 ? (f[f.length - 1] - f[0]) / (f.length - 1) : 0;
}"""
_FIRST_FRAME = """async () => {
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  return performance.now();
}"""


def layered(n: int, seed: int = 0) -> nx.DiGraph:
    """``n`` units over 8 depths, each with one or two parents one depth up."""
    rng = random.Random(seed)
    graph = nx.DiGraph()
    layers: list[list[str]] = [[] for _ in range(8)]
    for i in range(n):
        depth = 0 if i < 5 else min(7, 1 + int(rng.random() * 7))
        key = f"bench.unit:{i}"
        graph.add_node(key, kind=f"kind{i % 4}", depth=depth, status="downloaded", size=i)
        layers[depth].append(key)
    for depth in range(1, 8):
        above = layers[depth - 1] or layers[0]
        for key in layers[depth]:
            for parent in rng.sample(above, k=min(len(above), 1 + (rng.random() < 0.3))):
                graph.add_edge(parent, key, relation="dependency")
    return graph


def browser_measures(sizes: list[int]) -> list[Measure]:
    """First render and panning frame time per size, or nothing without a browser."""
    executable = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return []
    if executable is None:
        return []
    measures = []
    with tempfile.TemporaryDirectory(prefix="stagekit-bench-") as folder, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        for n in sizes:
            page_path = Path(folder) / f"graph-{n}.html"
            page_path.write_text(graph_html(layered(n), aggregate_above=10**9),
                                 encoding="utf-8")
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(page_path.as_uri(), wait_until="commit", timeout=600_000)
            page.wait_for_selector(".sk-graph[data-nodes]", timeout=900_000)
            first = page.evaluate(_FIRST_FRAME)
            # Pan as a user does: drag the stage with the mouse, counting frames meanwhile.
            box = page.locator(".sk-canvas").bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x, y)
            page.evaluate(_COUNT_FRAMES)
            page.mouse.down()
            for step in range(40):
                page.mouse.move(x + 6 * (step if step < 20 else 40 - step), y + 2 * step)
            page.mouse.up()
            frame = page.evaluate(_FRAME_TIME)
            shown = int(page.evaluate("() => document.querySelector('.sk-graph').dataset.nodes"))
            assert shown == n, f"{shown} nodes drawn, {n} expected"
            page.close()
            measures += [
                Measure(f"first render, {n:,} nodes", first / 1000, "s",
                        notes="navigation to the first frame after the graph was built"),
                Measure(f"frame time while panning, {n:,} nodes", frame, "ms",
                        notes="mean frame interval during a 40-step mouse drag; software "
                              "WebGL (headless, no GPU)"),
            ]
        browser.close()
    return measures


async def one_run(n: int, live: bool) -> tuple[float, float, Any]:
    """CPU and wall seconds of a flat run of ``n`` units, with or without the graph view."""
    where = tempfile.mkdtemp(prefix="stagekit-bench-")
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        run = stagekit.start(Flat(n), store=where)
        view = graph_widget(run) if live else None
        await run
        result = time.process_time() - cpu, time.perf_counter() - wall, view
        if view is not None:
            assert len(view.data["keys"]) == n
            view.close()
        run.store.close()
        return result
    finally:
        shutil.rmtree(where, ignore_errors=True)


def main() -> None:
    def extra(parser: Any) -> None:
        parser.add_argument("--sizes", default=None, help="graph sizes in the browser")
        parser.add_argument("--units", type=int, default=None, help="units of the live run")

    args = parse_args(__doc__.splitlines()[0], extra=extra)
    sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes else
             [5_000] if args.quick else [5_000, 50_000])
    n = args.units or (5_000 if args.quick else 50_000)
    repeats = args.repeats or (2 if args.quick else 3)
    plain: list[float] = []
    live: list[float] = []
    refreshes = []
    for i in range(repeats):
        for with_view in (False, True) if i % 2 == 0 else (True, False):
            cpu, _wall, view = asyncio.run(one_run(n, with_view))
            (live if with_view else plain).append(cpu)
            if view is not None:
                refreshes.append((view.refreshes, view.refresh_seconds))
    measures = [
        Measure(f"{n:,}-unit run with the interactive graph, CPU time", Timing(live).best, "s",
                baseline=Timing(plain).best, target=TARGET,
                notes="baseline: the same run without it; refresh rate adapts to its cost"),
        *browser_measures(sizes),
    ]
    report("graph_render", args, measures,
           details={"units": n, "sizes": sizes, "plain_cpu": plain, "live_cpu": live,
                    "refreshes_and_last_cost": refreshes})


if __name__ == "__main__":
    main()
