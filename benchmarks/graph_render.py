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
import os
import random
import shutil
import statistics
import subprocess
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
from stagekit.notebook.graph_view import bundle_path
from stagekit.testing.browser import FIRST_FRAME, FIRST_FRAME_PROBE

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


_MARKS = """() => Object.fromEntries(performance.getEntriesByType('mark')
  .filter((m) => m.name.startsWith('stagekit:')).map((m) => [m.name.slice(9), m.startTime]))"""
# Extras of a large graph (legend, depth table) are drawn after its first frame: the drag
# is measured once they are (a bundle without them has nothing to wait for).
_READY = """() => document.querySelector('.sk-graph').dataset.ready !== undefined
  || !performance.getEntriesByName('stagekit:sigma').length"""


def bundle_at(rev: str, folder: Path) -> Path | None:
    """The bundled graph.js as committed at ``rev`` (git), written under ``folder``."""
    try:
        done = subprocess.run(["git", "show", f"{rev}:stagekit/notebook/static/graph.js"],
                              cwd=Path(__file__).resolve().parent, capture_output=True,
                              timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    path = folder / f"graph-{rev}.js"
    path.write_bytes(done.stdout)
    return path


def _cpu_seconds(session: Any) -> dict[str, float]:
    """CPU seconds used so far by the browser's processes, per type (renderer, GPU...)."""
    used: dict[str, float] = {}
    for process in session.send("SystemInfo.getProcessInfo")["processInfo"]:
        used[process["type"]] = used.get(process["type"], 0.0) + float(process["cpuTime"])
    return used


def open_once(browser: Any, session: Any, page_path: Path, n: int) -> dict[str, float]:
    """Open one page: first render, browser CPU until then, the view's marks, drag frames."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.add_init_script(FIRST_FRAME_PROBE)
    cpu = _cpu_seconds(session)
    page.goto(page_path.as_uri(), wait_until="commit", timeout=600_000)
    page.wait_for_function(f"() => ({FIRST_FRAME})() !== null", timeout=900_000,
                           polling=50)
    first = page.evaluate(FIRST_FRAME)
    page.wait_for_function(_READY, timeout=600_000, polling=50)
    ready = page.evaluate("() => performance.now()")
    after = _cpu_seconds(session)
    cpu_by = {kind: after[kind] - cpu.get(kind, 0.0) for kind in after}
    marks = page.evaluate(_MARKS)
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
    return {"first": first / 1000, "cpu": sum(cpu_by.values()),
            "cpu_renderer": cpu_by.get("renderer", 0.0), "cpu_gpu": cpu_by.get("GPU", 0.0),
            "ready": ready / 1000, "frame": frame,
            **{f"mark_{k}": v / 1000 for k, v in marks.items()}}


def browser_measures(sizes: list[int], repeats: int, baseline_rev: str | None
                     ) -> tuple[list[Measure], dict[str, Any]]:
    """First render and panning frame time per size, or nothing without a browser.

    With ``baseline_rev`` the bundle committed at that revision opens the same page in
    the same browser, sides alternating; medians of ``repeats``.
    """
    executable = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return [], {}
    if executable is None:
        return [], {}
    measures: list[Measure] = []
    details: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="stagekit-bench-") as folder, \
            sync_playwright() as playwright:
        base_bundle = bundle_at(baseline_rev, Path(folder)) if baseline_rev else None
        bundles = {"ours": bundle_path(), **({"base": base_bundle} if base_bundle else {})}
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        session = browser.new_browser_cdp_session()
        for n in sizes:
            graph = layered(n)
            cpu = time.process_time()
            html = graph_html(graph, aggregate_above=10**9)
            build_cpu = time.process_time() - cpu
            bundle = bundle_path().read_text(encoding="utf-8")
            pages = {}
            for side, path in bundles.items():
                pages[side] = Path(folder) / f"graph-{n}-{side}.html"
                pages[side].write_text(html.replace(bundle, path.read_text(encoding="utf-8"))
                                       if side == "base" else html, encoding="utf-8")
            runs: dict[str, list[dict[str, float]]] = {side: [] for side in bundles}
            for r in range(repeats):
                for side in (list(bundles) if r % 2 == 0 else list(bundles)[::-1]):
                    runs[side].append(open_once(browser, session, pages[side], n))
            med = {side: {k: statistics.median(run[k] for run in rs) for k in rs[0]}
                   for side, rs in runs.items()}
            base = med.get("base", {})
            details[str(n)] = {"runs": runs, "page_bytes": len(html), "build_cpu": build_cpu}
            measures += [
                Measure(f"first render, {n:,} nodes", med["ours"]["first"], "s",
                        baseline=base.get("first"),
                        notes=f"navigation to the first frame after the graph was built; "
                              f"median of {repeats}"
                              + (f"; baseline: the bundle at {baseline_rev}" if base else "")),
                Measure(f"ready (every label and edge, legend), {n:,} nodes",
                        med["ours"]["ready"], "s", baseline=base.get("ready"),
                        notes="navigation to the view's deferred work done"),
                Measure(f"browser CPU, navigation to ready, {n:,} nodes", med["ours"]["cpu"],
                        "s", baseline=base.get("cpu"),
                        notes="renderer, GPU (software WebGL) and browser processes"),
                Measure(f"frame time while panning, {n:,} nodes", med["ours"]["frame"], "ms",
                        baseline=base.get("frame"),
                        notes="mean frame interval during a 40-step mouse drag; software "
                              "WebGL (headless, no GPU)"),
                Measure(f"offline page built in Python, {n:,} nodes", build_cpu, "s",
                        notes=f"graph_html CPU time; {len(html):,} bytes"),
            ]
        browser.close()
    return measures, details


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
        parser.add_argument("--browser-repeats", type=int, default=None,
                            help="pages opened per size and side (median)")
        parser.add_argument("--baseline-rev", default=None,
                            help="git revision whose bundled graph.js opens the same pages "
                                 "(before/after in one invocation)")
        parser.add_argument("--no-run", action="store_true",
                            help="only the browser measures, not the live run's CPU")

    args = parse_args(__doc__.splitlines()[0], extra=extra)
    load_start = os.getloadavg()
    sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes else
             [5_000] if args.quick else [5_000, 50_000])
    n = args.units or (5_000 if args.quick else 50_000)
    repeats = args.repeats or (2 if args.quick else 3)
    plain: list[float] = []
    live: list[float] = []
    refreshes = []
    for i in range(0 if args.no_run else repeats):
        for with_view in (False, True) if i % 2 == 0 else (True, False):
            cpu, _wall, view = asyncio.run(one_run(n, with_view))
            (live if with_view else plain).append(cpu)
            if view is not None:
                refreshes.append((view.refreshes, view.refresh_seconds))
    on_run = [] if args.no_run else [
        Measure(f"{n:,}-unit run with the interactive graph, CPU time", Timing(live).best, "s",
                baseline=Timing(plain).best, target=TARGET,
                notes="baseline: the same run without it; refresh rate adapts to its cost")]
    in_browser, browser_details = browser_measures(sizes, args.browser_repeats or
                                                   (1 if args.quick else 3), args.baseline_rev)
    load = os.getloadavg()
    print(f"load average (1, 5, 15 min): {' '.join(f'{v:.1f}' for v in load_start)} at the "
          f"start, {' '.join(f'{v:.1f}' for v in load)} at the end")
    report("graph_render", args, [*on_run, *in_browser],
           details={"units": n, "sizes": sizes, "plain_cpu": plain, "live_cpu": live,
                    "refreshes_and_last_cost": refreshes, "browser": browser_details,
                    "load_average_start": list(load_start), "load_average_end": list(load)})


if __name__ == "__main__":
    main()
