"""The interactive graph and the saved notebooks as a reader meets them: JupyterLab in Chromium."""

from __future__ import annotations

import shutil
from typing import Any

import nbformat
import pandas as pd
from nbformat.v4 import new_code_cell, new_notebook

from stagekit.diff import diff_columns
from stagekit.notebook import graph_html
from stagekit.notebook.diff_view import CHANGE_COLOURS
from tests.browser.conftest import Lab, screenshot
from tests.notebook.committed import NOTEBOOKS
from tests.notebook.test_draw import layered_graph

GRAPH = ".sk-graph[data-nodes]"

_EXPLORE = """
import stagekit
from stagekit.notebook import show_graph
from stagekit.remotes.maven import MavenRemote
from stagekit.testing import Faults, Server, latency, make_maven_repo

repo = make_maven_repo(n_poms=80, depth=6, fanout=3, seed=3, parent_chain=3, bom=True)
server = await Server(repo, faults=Faults()).start()
server.faults.add(latency(0.15, path="*.pom"))  # discovery takes a few seconds
run = stagekit.start(MavenRemote(server.url_for(repo.entry_path()), repo.roots),
                     policy="metadata-only", concurrency=2)
live = show_graph(run)
"""
_GROUPS = """
await run
groups = show_graph(run, aggregate_above=10)
"""


def graph_state(page: Any, index: int) -> dict[str, Any]:
    return page.evaluate(
        "(i) => ({...document.querySelectorAll('.sk-graph')[i].dataset})", index)


def node_position(page: Any, index: int, pick: str) -> tuple[float, float, str]:
    """Page coordinates and key of a node of graph ``index`` chosen by ``pick`` (JS)."""
    return page.evaluate(
        """([i, pick]) => {
            const root = document.querySelectorAll('.sk-graph')[i];
            const {renderer, graph} = root.__stagekit;
            const node = graph.nodes().find((n) => eval(pick)(graph.getNodeAttributes(n)));
            const p = renderer.graphToViewport(graph.getNodeAttributes(node));
            const box = root.querySelector('.sk-canvas').getBoundingClientRect();
            return [box.x + p.x, box.y + p.y, node];
        }""", [index, pick])


def test_live_graph_grows_while_the_kernel_is_idle_hovers_and_expands(lab: Lab, page: Any):
    nb = new_notebook(cells=[new_code_cell(_EXPLORE), new_code_cell(_GROUPS)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, lab.root / "live.ipynb")
    lab.open(page, "live.ipynb")
    # Only the first cell: the kernel goes idle while the run goes on in its loop.
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.ready")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell-and-select-next')")
    page.wait_for_selector(GRAPH, timeout=60_000)
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext"
                           ".session.kernel.status === 'idle'", timeout=60_000)
    first = int(graph_state(page, 0)["nodes"])
    screenshot(page, "live-graph-early")
    page.wait_for_function(f"() => +document.querySelector('{GRAPH}').dataset.nodes > {first}",
                           timeout=60_000)
    assert "running" in page.inner_text(".sk-status")
    page.wait_for_function(f"() => !document.querySelector('{GRAPH} .sk-status')"
                           ".textContent.includes('running')", timeout=90_000)
    done = graph_state(page, 0)
    assert int(done["nodes"]) > first and done["mode"] == "units"
    screenshot(page, "live-graph-done")

    # Hovering a node shows its key.
    x, y, key = node_position(page, 0, "(a) => !a.group")
    page.mouse.move(x, y)
    page.wait_for_function("(key) => { const t = document.querySelector('.sk-tip');"
                           " return t.style.display === 'block'"
                           " && t.textContent.startsWith(key); }", arg=key, timeout=10_000)
    screenshot(page, "live-graph-hover")

    # The aggregated view: one node per depth x kind; a click expands one into its units.
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
    page.wait_for_function("() => document.querySelectorAll('.sk-graph[data-mode=groups]')"
                           ".length === 1", timeout=60_000)
    groups = graph_state(page, 1)
    page.locator(".sk-graph").nth(1).scroll_into_view_if_needed()
    x, y, group = node_position(page, 1, "(a) => a.group && a.count > 1")
    count = page.evaluate("([g]) => document.querySelectorAll('.sk-graph')[1].__stagekit"
                          ".graph.getNodeAttribute(g, 'count')", [group])
    page.mouse.click(x, y)
    page.wait_for_function(
        f"() => +document.querySelectorAll('.sk-graph')[1].dataset.nodes === "
        f"{int(groups['nodes'])} - 1 + {count}", timeout=10_000)
    screenshot(page, "aggregated-expanded")
    # Only errors of the view's own code (anywidget loads it from a blob: URL) fail here;
    # jupyterlab-manager's "create_view ... then" for AnyView's layout is reported apart.
    ours = [e for e in page.errors if "blob:" in e]
    assert ours == [], "\n".join(ours)


def test_offline_html_export_shows_the_graph_with_no_network(browser: Any, tmp_path):
    path = tmp_path / "graph.html"
    path.write_text(graph_html(layered_graph(3000)), encoding="utf-8")
    context = browser.new_context(offline=True, viewport={"width": 1300, "height": 900})
    requests: list[str] = []
    context.route("**/*", lambda route: (requests.append(route.request.url), route.continue_()
                                         if route.request.url.startswith("file:")
                                         else route.abort()))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.as_uri())
    page.wait_for_selector(GRAPH, timeout=30_000)
    state = page.evaluate("() => ({...document.querySelector('.sk-graph').dataset})")
    assert state["units"] == "3000" and state["mode"] == "groups" and int(state["nodes"]) > 10
    drawn = page.evaluate("() => document.querySelector('.sk-graph').__stagekit.renderer"
                          ".getNodeDisplayData(document.querySelector('.sk-graph').__stagekit"
                          ".graph.nodes()[0]) !== undefined")
    assert drawn
    screenshot(page, "offline-export")
    assert requests == [path.as_uri()] and errors == []
    context.close()


def test_saved_notebook_without_widget_state_shows_the_final_summary(lab: Lab, page: Any):
    shutil.copy(NOTEBOOKS / "01_explore_a_remote.ipynb", lab.root / "saved.ipynb")
    saved = nbformat.read(lab.root / "saved.ipynb", as_version=4)
    assert "widgets" not in saved.metadata  # no kernel's widget state to restore
    lab.open(page, "saved.ipynb")
    page.wait_for_selector(".stagekit-run-summary", timeout=60_000)
    summaries = page.locator(".stagekit-run-summary").all_inner_texts()
    assert len(summaries) == 2
    assert "cancelled" in summaries[0] and "finished" in summaries[1]
    assert "240 units found, 240 done, 0 failed" in summaries[1]
    assert "model not found" not in page.inner_text("body")
    screenshot(page, "saved-notebook")


def test_offline_page_colours_what_changed_and_draws_removed_units_as_ghosts(browser: Any,
                                                                              tmp_path):
    graph = layered_graph(40)
    added, changed = "k2:5", "k0:6"
    frame = pd.DataFrame({"key": [added, changed, "k1:gone"], "kind": ["kind2", "kind0", "kind1"],
                          "change": ["added", "changed", "removed"], "depth": [5, 1, 2],
                          "old_digest": None, "new_digest": None, "old_size": None,
                          "new_size": None, "paths": ""}).astype(diff_columns())
    path = tmp_path / "diff.html"
    path.write_text(graph_html(graph, diff=frame), encoding="utf-8")
    context = browser.new_context(offline=True, viewport={"width": 1300, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.as_uri())
    page.wait_for_selector(GRAPH, timeout=30_000)
    state = page.evaluate("() => ({...document.querySelector('.sk-graph').dataset})")
    assert state["color"] == "diff" and state["ghosts"] == "1" and state["nodes"] == "41"
    assert state["legend"] == "added=1;removed (faded: ghosts)=1;changed=1;unchanged=38"
    assert "removed (faded: ghosts): 1" in page.inner_text(".sk-legend")
    colour = page.evaluate("(ks) => ks.map((k) => document.querySelector('.sk-graph')"
                           ".__stagekit.graph.getNodeAttribute(k, 'color'))",
                           [added, changed, "k1:gone"])
    assert colour == [CHANGE_COLOURS["added"], CHANGE_COLOURS["changed"],
                      "rgba(228,87,86,0.35)"]
    x, y, key = node_position(page, 0, "(a) => a.label.endsWith('(removed)')")
    assert key == "k1:gone"
    page.mouse.move(x, y)
    page.wait_for_function("() => document.querySelector('.sk-tip').textContent"
                           ".includes('change: removed')", timeout=10_000)
    screenshot(page, "offline-diff")
    assert errors == []
    context.close()
