"""The Run API: three entry points, cancel, live snapshots, errors in the table, the catalog."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

import stagekit
from stagekit.download import DownloadConfig
from stagekit.records import RunRecorder
from stagekit.storage import Store
from stagekit.testing import Faults, hold, latency, serve
from tests.notebook.remotes import LinkedPages, make_linked_repo

TIMEOUT = 60
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.05, read_timeout=2.0)


def check_store_consistent(store: Store, run_id: int) -> None:
    """Every stored file hashes to its name, and every artifact the catalog names is there."""
    for path in store.artifacts_dir.rglob("*"):
        if path.is_file():
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
    named = [a["sha256"] for a in store.load_run(run_id).artifacts if a["sha256"]]
    assert named and all(store.verify(sha256) for sha256 in named)


async def test_explore_builds_graph_and_frames_matching_the_remote(tmp_path):
    repo = make_linked_repo(layers=4, width=4, seed=1)
    store = Store(tmp_path / "store")
    async with serve(repo) as server, asyncio.timeout(TIMEOUT):
        base = server.url
        run = await stagekit.explore(LinkedPages(base), store=store, download_config=FAST)
    assert run.done and run.status == "finished"
    expected = repo.expected
    graph = run.graph
    assert set(graph.nodes) == set(expected.units)
    assert {n: d["depth"] for n, d in graph.nodes(data=True)} == expected.depths()
    assert {(a, b, r) for a, b, r in graph.edges(data="relation")} == expected.edges
    assert all(d["status"] == "downloaded" for _n, d in graph.nodes(data=True))

    frame = run.to_dataframe()
    assert len(frame) == len(expected.units)
    assert isinstance(frame["kind"].dtype, pd.CategoricalDtype)
    assert isinstance(frame["status"].dtype, pd.CategoricalDtype)
    assert str(frame["depth"].dtype) == "Int64" and str(frame["size"].dtype) == "Int64"
    assert str(frame["discovered_at"].dtype) == "datetime64[ns, UTC]"
    by_key = frame.set_index("key")
    for key, unit in expected.units.items():
        assert by_key.loc[key, "size"] == unit.artifacts[0].size
        assert by_key.loc[key, "artifacts"] == 1
    in_degree = {n: graph.in_degree(n) for n in graph.nodes}
    assert by_key["parents"].to_dict() == in_degree

    arts = run.artifacts_dataframe()
    assert len(arts) == len(expected.units)
    shas = {u.artifacts[0].sha256 for u in expected.units.values()}
    assert set(arts["sha256"]) == shas
    assert set(arts["status"]) == {"downloaded"}
    assert all(url.startswith(base) for url in arts["url"])
    assert run.stats["bytes"] == sum(u.artifacts[0].size for u in expected.units.values())
    assert run.to_dataframe() is not run.to_dataframe()  # a fresh frame each call


async def test_credentials_never_reach_the_artifact_table(tmp_path):
    repo = make_linked_repo(layers=2, width=2, seed=2)
    async with serve(repo) as server, asyncio.timeout(TIMEOUT):
        base = server.url.replace("http://", "http://alice:s3cret@")
        run = await stagekit.explore(LinkedPages(base), store=tmp_path / "s", download_config=FAST)
    urls = list(run.artifacts_dataframe()["url"])
    assert urls and all("s3cret" not in u and "alice" not in u for u in urls)
    assert "s3cret" not in run.to_dataframe().to_csv()


async def test_start_returns_at_once_and_the_run_completes_on_the_loop(tmp_path):
    repo = make_linked_repo(layers=3, width=3, seed=3)
    async with serve(repo, faults=Faults()) as server, asyncio.timeout(TIMEOUT):
        server.faults.add(latency(0.05, path="*.jar"))
        run = stagekit.start(LinkedPages(server.url), store=tmp_path / "s", download_config=FAST)
        assert not run.done
        assert await run is run
    assert run.done and run.status == "finished"
    assert len(run.to_dataframe()) == len(repo.expected.units)


async def test_cancel_stops_within_a_second_and_leaves_the_store_consistent(tmp_path):
    repo = make_linked_repo(layers=5, width=6, seed=4, jar_size=64 * 1024)
    store = Store(tmp_path / "store")
    async with serve(repo, faults=Faults()) as server, asyncio.timeout(TIMEOUT):
        server.faults.add(latency(0.3, path="*.jar"))
        run = stagekit.start(LinkedPages(server.url), store=store, download_config=FAST)
        await server.counters.wait_until(lambda c: c.in_flight >= 2 and c.total >= 4)
        started = time.monotonic()
        assert run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        assert time.monotonic() - started < 1.0
    assert run.done and run.status == "cancelled"
    assert not run.cancel()  # nothing left to stop
    check_store_consistent(store, run.run_id)
    (record,) = store.runs()
    assert record["status"] == "cancelled"
    assert len(run.to_dataframe()) < len(repo.expected.units)
    tmp_dir = store.tmp_dir
    store.close()
    assert not tmp_dir.exists()  # what a cancelled download left goes with the session


async def test_snapshots_while_running_are_consistent_and_fresh(tmp_path):
    repo = make_linked_repo(layers=5, width=5, seed=5)
    gate = asyncio.Event()
    async with serve(repo, faults=Faults()) as server, asyncio.timeout(TIMEOUT):
        server.faults.add(hold(gate, path="l3/*"))  # the run waits there until we look
        run = stagekit.start(LinkedPages(server.url), store=tmp_path / "s", download_config=FAST)
        await server.counters.wait_until(lambda c: c.faults_applied["hold"] >= 1)
        stats, frame, graph, arts = (run.stats, run.to_dataframe(), run.graph,
                                     run.artifacts_dataframe())
        assert not run.done
        assert stats["units"] == len(frame) == graph.number_of_nodes()
        assert set(frame["key"]) == set(graph.nodes)
        counts = frame["status"].value_counts()
        assert {k: v for k, v in counts.items() if v} == stats["statuses"]
        assert set(arts["unit_key"]) <= set(frame["key"])
        frame.loc[:, "depth"] = 99  # a snapshot is the caller's own
        assert (run.to_dataframe()["depth"] != 99).all()
        gate.set()
        await run
    assert len(run.to_dataframe()) == len(repo.expected.units) > len(frame)


async def test_failed_units_show_in_the_table_with_their_error(tmp_path):
    repo = make_linked_repo(layers=3, width=3, seed=6)
    missing = next(p for p in repo.files if p.endswith(".jar") and p.startswith("l1/"))
    del repo.files[missing]
    async with serve(repo) as server, asyncio.timeout(TIMEOUT):
        run = await stagekit.explore(LinkedPages(server.url), store=tmp_path / "s",
                                     download_config=FAST)
    key = f"demo.jar:{missing}"
    frame = run.to_dataframe().set_index("key")
    assert frame.loc[key, "status"] == "failed"
    assert "404" in frame.loc[key, "error"]
    assert (frame.drop(index=key)["status"] == "downloaded").all()
    assert dict(run.errors)[key] == frame.loc[key, "error"]
    assert run.stats["errors"] == 1
    arts = run.artifacts_dataframe().set_index("unit_key")
    assert arts.loc[key, "status"] == "failed"
    assert run.graph.nodes[key]["status"] == "failed"


async def test_store_lists_the_run_and_loads_back_the_same_graph_and_table(tmp_path):
    repo = make_linked_repo(layers=4, width=4, seed=7)
    store = Store(tmp_path / "store")
    async with serve(repo) as server, asyncio.timeout(TIMEOUT):
        missing = next(p for p in repo.files if p.endswith(".jar") and p.startswith("l2/"))
        del repo.files[missing]
        run = await stagekit.explore(LinkedPages(server.url), store=store, download_config=FAST)
    (record,) = store.runs()
    assert record["id"] == run.run_id and record["status"] == "finished"
    loaded = RunRecorder.from_saved(store.load_run(run.run_id))

    live, back = run.graph, loaded.graph()
    assert dict(live.nodes(data=True)) == dict(back.nodes(data=True))
    assert set(live.edges(data="relation")) == set(back.edges(data="relation"))
    columns = ["key", "kind", "depth", "parents", "relation", "status", "error", "size",
               "artifacts"]
    a = run.to_dataframe()[columns].sort_values("key").reset_index(drop=True)
    b = loaded.to_dataframe()[columns].sort_values("key").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    arts = ["unit_key", "relative_path", "url", "size", "sha256", "status"]
    a = run.artifacts_dataframe()[arts].sort_values("unit_key").reset_index(drop=True)
    b = loaded.artifacts_dataframe()[arts].sort_values("unit_key").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


_SCRIPT = """
import asyncio, sys, tempfile
import stagekit
sys.path.insert(0, {root!r})
from tests.notebook.remotes import Flat
assert "nest_asyncio2" not in sys.modules, "nest_asyncio2 imported at import time"
run = stagekit.explore_sync(Flat(300), store=tempfile.mkdtemp())
assert run.status == "finished" and len(run.to_dataframe()) == 300, run
assert "nest_asyncio2" not in sys.modules, "nest_asyncio2 used without a running loop"

async def cell():  # a notebook cell: the loop runs, the call still blocks until done
    run = stagekit.explore_sync(Flat(200), store=tempfile.mkdtemp())
    assert run.done and len(run.to_dataframe()) == 200
    return run.status

print(asyncio.run(cell()), "nest_asyncio2" in sys.modules)
"""


def test_explore_sync_works_from_a_script_and_from_inside_a_running_loop():
    root = str(__import__("pathlib").Path(__file__).resolve().parents[1])
    script = textwrap.dedent(_SCRIPT.format(root=root))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["finished", "True"]
