"""The live view read without a browser: its state after a run, the stop button, the throttle."""

from __future__ import annotations

import asyncio
import time

import stagekit
from stagekit.download import DownloadConfig
from stagekit.notebook import RunWidget, run_mimebundle, summary_html, summary_text
from stagekit.testing import Faults, latency, serve
from tests.notebook.remotes import Flat, LinkedPages, make_linked_repo

TIMEOUT = 60
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.05, read_timeout=2.0)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


async def test_widget_of_a_finished_run_shows_final_counts_per_stage_and_depth(tmp_path):
    repo = make_linked_repo(layers=4, width=3, seed=11)
    del repo.files["l1/p0.jar"]
    async with serve(repo) as server, asyncio.timeout(TIMEOUT):
        run = await stagekit.explore(LinkedPages(server.url), store=tmp_path / "s",
                                     download_config=FAST)
    widget = run.widget()
    assert isinstance(widget, RunWidget) and not widget.refreshing
    n = len(repo.expected.units)
    assert set(widget.bars) == {stage.name for stage in run.stages}
    assert all(bar.max == n for bar in widget.bars.values())
    # The unit whose jar is missing leaves the pipeline at the downloader.
    values = {name: bar.value for name, bar in widget.bars.items()}
    assert values == {"LinkedPages": n, "QueryExistingArtifacts": n, "ArtifactDownloader": n - 1,
                      "ArtifactSaver": n - 1, "QueryExistingContents": n - 1,
                      "ContentSaver": n - 1, "ResolveContentFutures": n - 1, "EndStage": n - 1}
    assert widget.bars["ContentSaver"].description == f"ContentSaver {n - 1:,} / {n:,}"
    # One overall line first: found, done, failed, bytes, rate, elapsed, deepest level.
    header = widget.header.value
    assert "finished" in header and f"{n:,} units found, {n - 1:,} done, 1 failed" in header
    assert f"deepest level {max(run.stats['depths'])}" in header and "/s" in header
    for depth, count in run.stats["depths"].items():
        assert f"<td style='padding:0 6px'>{depth}</td>" in widget.depths.value
        assert f">{count:,}</td>" in widget.depths.value
    assert "Failures (1)" in widget.failures.value and "demo.jar:l1/p0.jar" in widget.failures.value
    assert widget.stop_button.disabled and widget.stop_button.description == "Finished"
    state = widget.get_state()  # what a notebook saves: the model ids of the parts
    assert len(state["children"]) == 2  # the overall line with Stop, then the tabs
    assert widget.details.selected_index is None  # the per-stage bars start folded
    assert widget.details.children == (widget.stages_box,)
    assert [widget.tabs.get_title(i) for i in range(2)] == ["Progress", "Graph"]
    assert widget.graph is None  # made only when its tab is opened
    graph = widget.show_graph_tab()
    assert graph.data["keys"] and len(graph.data["keys"]) == n
    assert widget.graph_box.children == (graph,)
    final = widget.final_view()
    assert set(final) == {"text/html", "text/plain"}  # no widget: nothing a reader cannot see
    assert "stagekit-run-summary" in final["text/html"] and "<svg" in final["text/html"]
    widget.close()
    assert not graph.refreshing


async def test_live_widget_refreshes_while_running_then_makes_one_final_update(tmp_path):
    repo = make_linked_repo(layers=4, width=4, seed=12)
    async with serve(repo, faults=Faults()) as server, asyncio.timeout(TIMEOUT):
        server.faults.add(latency(0.05, path="*.jar"))
        run = stagekit.start(LinkedPages(server.url), store=tmp_path / "s", download_config=FAST)
        widget = RunWidget(run, interval=0.02)
        assert widget.refreshing and widget.updates == 1
        seen: list[int] = []
        widget.on_finish(lambda: seen.append(widget.updates))
        await server.counters.wait_until(lambda c: c.total >= 5)
        await run
        # The final refresh was made as the run ended, before this await resumed.
        assert seen == [widget.updates] and "finished" in widget.header.value
        await widget.wait_final()
    assert not widget.refreshing
    assert widget.updates >= 3
    n = len(repo.expected.units)
    assert widget.bars["ResolveContentFutures"].value == n
    assert "finished" in widget.header.value and widget.stop_button.disabled


async def test_stop_button_cancels_the_run_and_the_view_says_so(tmp_path):
    repo = make_linked_repo(layers=5, width=5, seed=13)
    async with serve(repo, faults=Faults()) as server, asyncio.timeout(TIMEOUT):
        server.faults.add(latency(0.5, path="*.jar"))
        run = stagekit.start(LinkedPages(server.url), store=tmp_path / "s", download_config=FAST)
        widget = RunWidget(run, interval=0.02)
        await server.counters.wait_until(lambda c: c.in_flight >= 1)
        widget.stop_button.click()
        assert widget.stop_button.disabled
        await asyncio.wait({asyncio.ensure_future(run)})
        await widget.wait_final()
    assert run.status == "cancelled"
    assert widget.stop_button.description == "Cancelled"
    assert "cancelled" in widget.header.value


async def test_refreshes_per_second_stay_bounded_with_50000_units(tmp_path):
    run = stagekit.start(Flat(50_000), store=tmp_path / "s")
    widget = RunWidget(run)  # the default rate: at most ten refreshes a second
    started = time.monotonic()
    async with asyncio.timeout(120):
        await run
        await widget.wait_final()
    elapsed = time.monotonic() - started
    assert len(run.to_dataframe()) == 50_000
    # One refresh per tick, plus the first and the final: never one per unit or event.
    assert widget.updates <= elapsed / widget.interval + 2
    assert widget.updates >= min(5, elapsed / widget.interval / 2)
    assert widget.bars["EndStage"].value == 50_000


async def test_outside_a_kernel_a_run_displays_as_a_static_summary(tmp_path):
    run = await stagekit.explore(Flat(20), store=tmp_path / "s")
    bundle = run._repr_mimebundle_()
    assert WIDGET_VIEW not in bundle
    assert bundle["text/html"] == summary_html(run) and "20 units" in bundle["text/html"]
    assert bundle["text/plain"] == summary_text(run)
    assert run_mimebundle(run) == bundle
    widget_bundle = RunWidget(run)._repr_mimebundle_()
    assert widget_bundle[WIDGET_VIEW]["model_id"]
    assert "finished" in widget_bundle["text/html"]


def test_static_summary_escapes_errors_and_lists_stages():
    class FakeRemote:
        def describe(self) -> str:
            return "fake remote"

    class FakeRun:
        remote = FakeRemote()
        stats = {"status": "finished", "elapsed": 1.0, "units": 2, "statuses": {"failed": 2},
                 "depths": {0: 2}, "stages": {"A": {"in": 0, "out": 2}}, "bytes": 2048,
                 "bytes_per_second": 2048.0, "errors": 2}
        errors = [("k:<1>", "bad <script>"), ("k:2", "404")]

    html = summary_html(FakeRun())
    assert "<script>" not in html and "bad &lt;script&gt;" in html
    assert "2.0 KiB" in html and "Failures (2)" in html and "<td" in html
    assert "failed k:2: 404" in summary_text(FakeRun())
