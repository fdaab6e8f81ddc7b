"""The example notebooks, executed on a real ipykernel through nbclient, and a background run.

The kernel is the ``python3`` kernelspec, written for these tests into a temporary
directory put first on ``JUPYTER_PATH`` with ``sys.executable`` as its interpreter: the
kernel runs the same Python (and stagekit) as the tests, in CI as here, whatever other
``python3`` kernelspecs the machine has.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module", autouse=True)
def python3_kernelspec(tmp_path_factory):
    """A ``python3`` kernelspec running this interpreter, first on JUPYTER_PATH."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (stagekit tests)",
        "language": "python",
    }))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(root), old]))
    yield
    if old is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = old


def client_for(nb, cwd: Path) -> NotebookClient:
    return NotebookClient(nb, kernel_name="python3", timeout=90, store_widget_state=True,
                          resources={"metadata": {"path": str(cwd)}})


def execute(name: str, cwd: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.insert(0, new_code_cell("import sys; print(sys.executable)"))
    client_for(nb, cwd).execute()
    executable = nb.cells.pop(0).outputs[0]["text"].strip()
    assert executable == sys.executable  # the kernel runs the tests' own Python
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert errors == []
    return nb


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


def test_explore_notebook_shows_live_views_saves_their_final_state_and_resumes(tmp_path):
    nb = execute("01_explore_a_remote.ipynb", tmp_path)
    outputs = code_outputs(nb)
    first, stop, second, awaited = outputs[1], outputs[2], outputs[3], outputs[4]
    for display in (first, second):
        (view,) = display
        assert WIDGET_VIEW in view["data"] and "text/html" in view["data"]
    # The static summaries were replaced by the final ones when each run ended.
    assert "cancelled" in first[0]["data"]["text/html"]
    assert "finished, 240 units" in second[0]["data"]["text/html"]
    assert text(stop).startswith("cancelled")
    counts = text(awaited)
    assert "existing" in counts and "downloaded" in counts

    states = widget_states(nb)
    for display in (first, second):
        assert display[0]["data"][WIDGET_VIEW]["model_id"] in states
    buttons = [s["state"] for s in states.values() if s["model_name"] == "ButtonModel"]
    assert {b["description"] for b in buttons} == {"Cancelled", "Finished"}
    assert all(b["disabled"] for b in buttons)
    headers = [s["state"]["value"] for s in states.values()
               if s["model_name"] == "HTMLModel" and "240 units" in s["state"].get("value", "")]
    assert any("finished" in h for h in headers) and any("cancelled" in h for h in headers)


def test_depth_notebook_draws_the_graph_and_the_depth_plot_as_saved_svg(tmp_path):
    nb = execute("02_discovery_depth.ipynb", tmp_path)
    svgs = [o["data"]["image/svg+xml"] for outs in code_outputs(nb) for o in outs
            if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) == 3
    assert all("<svg" in svg for svg in svgs)
    assert "aggregated per depth and kind" in svgs[2] and "aggregated" not in svgs[0]
    assert "units per depth by kind" in svgs[1]
    out = "\n".join(text(outs) for outs in code_outputs(nb))
    assert "relations: ['dependency', 'import', 'parent', 'relocation']" in out
    assert "found as expected: True" in out
    assert "cycles: True" in out


def test_export_notebook_filters_groups_and_saves_parquet_and_csv(tmp_path):
    nb = execute("03_export_dataframe.ipynb", tmp_path)
    out = "\n".join(text(outs) for outs in code_outputs(nb))
    assert "(120, 14) True" in out  # 120 units, 13 columns and the added folder
    assert "['artifacts.csv', 'units.parquet']" in out
    assert "12 failed, all 404: True" in out  # file-00007, 00017, ... 00117
    assert "file:dir3/file-00007.bin" in text(code_outputs(nb)[2])


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
