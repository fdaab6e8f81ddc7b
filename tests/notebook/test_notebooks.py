"""The example notebooks, executed on a real ipykernel through nbclient, and a background run.

The kernel is the ``python3`` kernelspec, written for these tests into a temporary
directory put first on ``JUPYTER_PATH`` with ``sys.executable`` as its interpreter: the
kernel runs the same Python (and stagekit) as the tests, in CI as here, whatever other
``python3`` kernelspecs the machine has.
"""

from __future__ import annotations

import asyncio
import base64
import json
import queue
from array import array
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tests.notebook.committed import NOTEBOOKS, client_for, fingerprint, python3_kernel
from tests.notebook.committed import execute as execute_path

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module", autouse=True)
def python3_kernelspec():
    """A ``python3`` kernelspec running this interpreter, first on JUPYTER_PATH."""
    with python3_kernel():
        yield


def execute(name: str, cwd: Path) -> nbformat.NotebookNode:
    """``notebooks/name`` executed in ``cwd``, with no error output."""
    nb = execute_path(NOTEBOOKS / name, cwd)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert errors == []
    return nb


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Each notebook executed once for the whole module: name -> executed notebook."""
    done: dict[str, nbformat.NotebookNode] = {}

    def get(name: str) -> nbformat.NotebookNode:
        if name not in done:
            done[name] = execute(name, tmp_path_factory.mktemp("nb"))
        return done[name]

    return get


def code_outputs(nb) -> list[list[dict]]:
    return [c.outputs for c in nb.cells if c.cell_type == "code"]


def text(outputs) -> str:
    parts = []
    for o in outputs:
        parts.append(o.get("text", ""))
        parts.append(o.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def widget_states(nb) -> dict[str, dict]:
    return nb.metadata["widgets"][WIDGET_STATE]["state"]


def saved_graph(entry: dict) -> dict:
    """The snapshot a saved graph widget holds: its payload's buffers, decoded."""
    buffers = {tuple(b["path"]): base64.b64decode(b["data"]) for b in entry.get("buffers", [])}
    snap = json.loads(buffers["payload", "meta"])
    snap["keys"] = json.loads(buffers["payload", "keys"])
    for name in ("kind", "status", "depth", "src", "dst", "rel"):
        snap[name] = array("i", buffers["payload", name]).tolist()
    return snap


def test_explore_notebook_replaces_each_live_view_by_its_final_summary_and_resumes(executed):
    nb = executed("01_explore_a_remote.ipynb")
    outputs = code_outputs(nb)
    first, stop, second, awaited = outputs[1], outputs[2], outputs[3], outputs[4]
    for display in (first, second):
        (view,) = display
        # What is saved is what a reader sees: no widget left to be "model not found".
        assert set(view["data"]) == {"text/html", "text/plain"}
        assert "stagekit-run-summary" in view["data"]["text/html"]
    assert "cancelled · 240 units found" in first[0]["data"]["text/html"]
    assert "finished · 240 units found, 240 done, 0 failed" in second[0]["data"]["text/html"]
    assert text(stop).startswith("cancelled")
    counts = text(awaited)
    assert "existing" in counts and "downloaded" in counts

    # While they ran, the live views were widgets; their last state was still sent.
    states = widget_states(nb)
    buttons = [s["state"] for s in states.values() if s["model_name"] == "ButtonModel"]
    assert {b["description"] for b in buttons} == {"Cancelled", "Finished"}
    headers = [s["state"]["value"] for s in states.values()
               if s["model_name"] == "HTMLModel" and "240 units" in s["state"].get("value", "")]
    assert any("finished" in h for h in headers) and any("cancelled" in h for h in headers)


def test_depth_notebook_draws_the_graph_inline_and_the_depth_plot_as_saved_svg(executed):
    nb = executed("02_discovery_depth.ipynb")
    outs = [o for cell in code_outputs(nb) for o in cell]
    trees = [o["data"]["text/html"] for o in outs if "stagekit-tree" in
             o.get("data", {}).get("text/html", "")]
    assert len(trees) == 2 and all("<svg" in t and "<title>" in t for t in trees)
    assert "aggregated per depth and kind" in trees[1] and "aggregated" not in trees[0]
    svgs = [o["data"]["image/svg+xml"] for o in outs if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) == 1 and "units per depth by kind" in svgs[0]
    graphs = [o["data"][WIDGET_VIEW]["model_id"] for o in outs if WIDGET_VIEW in o.get("data", {})]
    assert len(graphs) == 2
    full, clash = (saved_graph(widget_states(nb)[g]) for g in graphs)
    assert len(full["keys"]) > 100 and not full["running"]
    # The generated repository holds a version conflict, and the second view shows it.
    assert widget_states(nb)[graphs[1]]["state"]["color_by"] == "conflict"
    assert sorted(full["conflict_ga"]) == ["org.stagekit.conflict:util"] * 2
    assert sorted(clash["keys"][i] for i in clash["conflict_nodes"]) == [
        "maven.pom:org.stagekit.conflict:util:1.0", "maven.pom:org.stagekit.conflict:util:2.0"]
    out = "\n".join(text(outs) for outs in code_outputs(nb))
    assert "relations: ['dependency', 'import', 'parent', 'relocation']" in out
    assert "found as expected: True" in out
    assert "cycles: True" in out


def test_export_notebook_filters_groups_and_saves_parquet_and_csv(executed):
    nb = executed("03_export_dataframe.ipynb")
    out = "\n".join(text(outs) for outs in code_outputs(nb))
    assert "(120, 14) True" in out  # 120 units, 13 columns and the added folder
    assert "['artifacts.csv', 'units.parquet']" in out
    assert "12 failed, all 404: True" in out  # file-00007, 00017, ... 00117
    assert "file:dir3/file-00007.bin" in text(code_outputs(nb)[2])


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_committed_outputs_are_those_the_notebook_makes_now(executed, name):
    committed = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(c.get("outputs") for c in committed.cells if c.cell_type == "code"
               and "await server.stop()" not in c.source), "run python -m tests.notebook.committed"
    assert fingerprint(committed) == fingerprint(executed(name)), (
        f"{name}'s saved outputs are stale: run python -m tests.notebook.committed")


_START = """
import tempfile
import stagekit
from stagekit.remotes.file import FileRemote
from stagekit.testing import Faults, Server, latency, make_file_repo
repo = make_file_repo(60, seed=2)
server = await Server(repo, faults=Faults()).start()
server.faults.add(latency(0.02, path="dir*"))
run = stagekit.start(FileRemote(server.url_for(repo.entry_path())),
                     store=tempfile.mkdtemp(), concurrency=2)
display(run)
print("returned", run.done, run.stats["statuses"].get("downloaded", 0))
"""
_CHECK = 'print("later", run.done, run.status, run.stats["statuses"])'


async def test_started_run_progresses_and_completes_while_the_kernel_waits_between_cells(
    tmp_path,
):
    nb = new_notebook(cells=[new_code_cell(_START), new_code_cell(_CHECK)])
    client = client_for(nb, tmp_path)
    async with client.async_setup_kernel():
        await client.async_execute_cell(nb.cells[0], 0)
        assert nb.cells[0].outputs[-1]["text"] == "returned False 0\n"
        # No cell runs now: read what the kernel sends until the view reports the end.
        headers: list[str] = []
        async with asyncio.timeout(60):
            while True:
                try:
                    msg = await client.kc.get_iopub_msg(timeout=1)
                except queue.Empty:
                    continue
                state = msg["content"].get("data", {}).get("state", {})
                value = state.get("value")
                if msg["msg_type"] == "comm_msg" and isinstance(value, str) and "units" in value:
                    headers.append(value)
                if state.get("description") == "Finished":
                    break
        assert len(headers) >= 2 and "running" in headers[0]
        await client.async_execute_cell(nb.cells[1], 1)
    assert nb.cells[1].outputs[-1]["text"] == "later True finished {'downloaded': 60}\n"
