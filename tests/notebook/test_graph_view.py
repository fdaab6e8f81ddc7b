"""The interactive graph read without a browser: snapshots, live growth, the offline page."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

import stagekit
from stagekit.notebook import graph_html, graph_widget, write_graph_outputs
from stagekit.notebook.graph_view import MAX_SHARE, MIN_INTERVAL
from stagekit.notebook.snapshot import graph_snapshot
from stagekit.testing import Faults, serve
from stagekit.testing.faults import stall
from tests.notebook.remotes import Flat, LinkedPages, make_linked_repo
from tests.notebook.test_draw import layered_graph

TIMEOUT = 60


def test_snapshot_columns_describe_every_unit_and_edge():
    graph = layered_graph(40)
    snap = graph_snapshot(graph)
    assert snap["keys"] == list(graph.nodes)
    i = snap["keys"].index("k1:25")
    assert snap["kinds"][snap["kind"][i]] == "kind1" and snap["depth"][i] == 1
    assert snap["statuses"][snap["status"][i]] == graph.nodes["k1:25"]["status"]
    edges = {(snap["keys"][a], snap["keys"][b]) for a, b in zip(snap["src"], snap["dst"],
                                                                 strict=True)}
    assert edges == set(graph.edges)
    assert {snap["relations"][r] for r in snap["rel"]} == {"dep"}
    assert all(0 < x < 1 for x in snap["x"])
    path = [snap["keys"][i] for i in snap["path"]]
    assert [graph.nodes[k]["depth"] for k in path] == list(range(6))
    json.dumps(snap)  # what the widget syncs and the page embeds


async def test_graph_grows_while_the_run_goes_on_and_ends_at_the_runs_end(tmp_path):
    repo = make_linked_repo(layers=5, width=6, seed=4)
    async with serve(repo, faults=Faults()) as server, asyncio.timeout(TIMEOUT):
        server.faults.add(stall(path="l4/*"))  # discovery stops short of the last layer
        run = stagekit.start(LinkedPages(server.url), store=tmp_path / "s")
        widget = graph_widget(run)
        first = len(widget.data["keys"])
        assert widget.refreshing and widget.data["running"]
        sizes: list[int] = []
        grown = asyncio.Event()

        def seen(change: dict) -> None:
            sizes.append(len(change["new"]["keys"]))
            if any(d >= 3 for d in change["new"]["depth"]):
                grown.set()

        widget.observe(seen, names="data")
        await grown.wait()  # the timer refreshed it while the run went on
        run.cancel()
        await asyncio.wait({asyncio.ensure_future(run)})
    assert first < sizes[0] <= sizes[-1] and sizes == sorted(sizes)
    assert not widget.refreshing  # the final refresh stopped the timer
    assert not widget.data["running"] and len(widget.data["keys"]) == len(run.graph)
    # The rate adapts to the cost: never more often than every MIN_INTERVAL.
    assert widget.refreshes <= run.stats["elapsed"] / MIN_INTERVAL + 2
    assert widget.refresh_seconds < 60 * MAX_SHARE  # a small graph refreshes quickly
    widget.close()


async def test_filters_and_options_are_checked_and_applied(tmp_path):
    run = await stagekit.explore(Flat(30), store=tmp_path / "s")
    widget = graph_widget(run, key="bench.item:1*", color_by="status")
    assert sorted(widget.data["keys"]) == sorted(k for k in run.graph if k.startswith(
        "bench.item:1"))
    assert widget.data["total"] == 30 and widget.color_by == "status"
    with pytest.raises(ValueError, match="size_by must be one of"):
        graph_widget(run, size_by="weight")
    with pytest.raises(TypeError, match="unexpected keyword"):
        graph_widget(run, kind="bench.item")


def test_offline_page_inlines_the_script_and_data_and_loads_nothing(tmp_path):
    graph = layered_graph(60)
    graph.add_node("k0:</script><b>", kind="kind0", depth=1, status="failed",
                   error="</script> <!-- x")
    page = graph_html(graph, title="a <title>")
    assert not re.search(r'(src|href)="', page)  # no script, style or link from outside
    assert "default-src 'none'" in page  # the page may not fetch anything either
    assert page.count("</script>") == 3  # the data, the bundle, the start: none inside
    data = page.split('id="stagekit-graph-data">', 1)[1].split("</script>", 1)[0]
    state = json.loads(data)
    assert "k0:</script><b>" in state["data"]["keys"]
    assert "<title>a &lt;title&gt;</title>" in page


async def test_write_graph_outputs_writes_the_svg_and_the_page(tmp_path):
    repo = make_linked_repo(layers=4, width=3, seed=21)
    async with serve(repo) as server, asyncio.timeout(TIMEOUT):
        run = await stagekit.explore(LinkedPages(server.url), store=tmp_path / "s")
    small = write_graph_outputs(run, tmp_path / "small")
    assert [p.name for p in small] == ["tree.svg", "graph.html"]
    assert "aggregated" not in small[0].read_text(encoding="utf-8")
    large = write_graph_outputs(run, tmp_path / "large", max_nodes=5)
    assert "aggregated per depth and kind" in large[0].read_text(encoding="utf-8")
    assert "window.stagekitGraph" in large[1].read_text(encoding="utf-8")
