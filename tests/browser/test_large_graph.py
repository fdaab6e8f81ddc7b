"""A large graph in the offline page: first frame first, then every label and edge.

Past 2,000 nodes the view draws its first frame with the nodes and the deepest chain,
then adds the other labels and edges; past 15,000 edges the thin ones show only once the
view is zoomed in. Checked on what the page really drew (screenshots' pixels).
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image  # matplotlib's dependency, in the test extra

from stagekit.notebook import graph_html
from stagekit.testing.browser import FIRST_FRAME, FIRST_FRAME_PROBE
from tests.browser.conftest import screenshot
from tests.notebook.test_draw import layered_graph

UNITS = 16_000  # a tree: 15,997 edges, just past the budget of edges drawn zoomed out
EDGE_GREY = (0xBB, 0xBB, 0xBB)


def grey_pixels(page: Any) -> int:
    """Pixels of the canvas in the colour of ordinary edges."""
    image = Image.open(io.BytesIO(page.locator(".sk-canvas").screenshot())).convert("RGB")
    return sum(count for count, colour in image.getcolors(1 << 24) if colour == EDGE_GREY)


def view(page: Any) -> dict[str, Any]:
    return page.evaluate("""() => { const root = document.querySelector('.sk-graph');
        const {graph} = root.__stagekit;
        return {...root.dataset, size: graph.size, status: root.querySelector('.sk-status')
          .textContent, unlabelled: graph.filterNodes((n, a) => a.label === null).length}; }""")


def test_a_large_graph_draws_its_nodes_first_then_its_edges_once_zoomed_in(browser: Any,
                                                                          tmp_path):
    graph = layered_graph(UNITS)
    graph.add_edge("k0:0", "k1:4", relation="import")  # a second parent
    path = tmp_path / "large.html"
    path.write_text(graph_html(graph, aggregate_above=10**9), encoding="utf-8")
    context = browser.new_context(offline=True, viewport={"width": 1300, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(FIRST_FRAME_PROBE)
    page.goto(path.as_uri())
    page.wait_for_function("() => document.querySelector('.sk-graph[data-ready]')",
                           timeout=120_000)
    # The first frame was on screen before the deferred labels and edges were added.
    first = page.evaluate(FIRST_FRAME)
    ready = page.evaluate("() => performance.getEntriesByName('stagekit:ready')[0].startTime")
    assert first is not None and first < ready
    state = view(page)
    assert state["nodes"] == str(UNITS) and state["mode"] == "units"
    assert int(state["edges"]) == state["size"] == graph.number_of_edges()
    assert state["unlabelled"] == 0
    # Zoomed out: the 15,998 thin edges are not drawn, and the status says why.
    assert state["edgesHidden"] == "true" and "zoom in to see the edges" in state["status"]
    hidden = grey_pixels(page)
    screenshot(page, "large-graph-zoomed-out")
    page.evaluate("() => document.querySelector('.sk-graph').__stagekit.renderer"
                  ".getCamera().setState({ratio: 0.5})")
    page.wait_for_function("() => document.querySelector('.sk-graph')"
                           ".dataset.edgesHidden === 'false'", timeout=10_000)
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => "
                  "requestAnimationFrame(r)))")
    assert "zoom in" not in view(page)["status"]
    shown = grey_pixels(page)
    screenshot(page, "large-graph-zoomed-in")
    assert hidden < 50 and shown > 2000, (hidden, shown)

    # Clicking a unit lists its parents and children (the index built on demand).
    x, y = page.evaluate("""async (key) => { const root = document.querySelector('.sk-graph');
        const {renderer, graph} = root.__stagekit;
        const d = renderer.getNodeDisplayData(key);
        renderer.getCamera().setState({x: d.x, y: d.y, ratio: 0.002});
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        const p = renderer.graphToViewport(graph.getNodeAttributes(key));
        const box = root.querySelector('.sk-canvas').getBoundingClientRect();
        return [box.x + p.x, box.y + p.y]; }""", "k1:4")
    page.mouse.click(x, y)
    page.wait_for_function("() => document.querySelector('.sk-graph').dataset.selected"
                           " === 'k1:4'", timeout=10_000)
    side = page.inner_text(".sk-side")
    children = graph.out_degree("k1:4")
    assert "Parents (2)" in side and f"Children ({children})" in side
    assert "k0:0 (import)" in side and "(dep)" in side
    assert errors == []
    context.close()
