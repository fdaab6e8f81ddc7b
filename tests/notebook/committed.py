"""The example notebooks as committed: executed offline on the tests' fixtures, with outputs.

``python -m tests.notebook.committed`` re-executes every notebook in ``notebooks/`` on a
kernel running this interpreter (with its widget state saved, so the views render where
no kernel runs) and writes it back. `fingerprint` is what must stay equal between the
committed outputs and a fresh run: per code cell, the output types, their MIME types
and their text with what changes from run to run (ports, temporary paths, times, rates,
ids, counts) masked.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

_VOLATILE = [
    (re.compile(r"[0-9a-f]{32}"), "ID"),  # widget model ids
    (re.compile(r"https?://127\.0\.0\.1:\d+"), "URL"),
    (re.compile(r"/tmp/[^\s'\"<>)]*|/private/var/[^\s'\"<>)]*"), "TMP"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T][\d:.]+(\+00:00)?"), "TIME"),
    (re.compile(r"\d[\d,.]*\s(?:B|KiB|MiB|GiB)\b"), "SIZE"),  # a stopped run's bytes
    (re.compile(r"\d[\d,.]*"), "N"),  # counts of a cancelled run, rates, sizes, positions
]


@contextmanager
def python3_kernel() -> Iterator[None]:
    """A ``python3`` kernelspec running this interpreter, first on JUPYTER_PATH."""
    with tempfile.TemporaryDirectory(prefix="stagekit-kernel-") as root:
        spec = Path(root) / "kernels" / "python3"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (stagekit)", "language": "python",
        }))
        old = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [root, old]))
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = old


def client_for(nb: nbformat.NotebookNode, cwd: Path) -> NotebookClient:
    return NotebookClient(nb, kernel_name="python3", timeout=90, store_widget_state=True,
                          resources={"metadata": {"path": str(cwd)}})


def execute(path: Path, cwd: Path) -> nbformat.NotebookNode:
    """``path`` executed in ``cwd`` on the python3 kernel (which must be this Python)."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, new_code_cell("import sys; print(sys.executable)"))
    client_for(nb, cwd).execute()
    executable = nb.cells.pop(0).outputs[0]["text"].strip()
    if executable != sys.executable:
        raise RuntimeError(f"the kernel ran {executable}, not {sys.executable}")
    return nb


def mask(text: str) -> str:
    """``text`` with what differs between two runs of a notebook replaced by placeholders."""
    for pattern, placeholder in _VOLATILE:
        text = pattern.sub(placeholder, text)
    return text


def fingerprint(nb: nbformat.NotebookNode) -> list[list[tuple[str, tuple[str, ...], str]]]:
    """Per code cell: (output type, MIME types, masked text) of each output."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            data: dict[str, Any] = out.get("data", {})
            shown = data.get("text/html") or data.get("text/plain") or out.get("text", "")
            if "stagekit-run-summary" in shown:  # a stopped run's tables depend on when
                shown = shown.split("</b>", 1)[0]
            if "image/svg+xml" in data:  # matplotlib's ids and paths change with its version
                shown = "svg"
            outputs.append((out["output_type"], tuple(sorted(data)), mask(str(shown))))
        cells.append(outputs)
    return cells


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop what only this machine knows, and widget state that no output shows any more."""
    shown = any("application/vnd.jupyter.widget-view+json" in out.get("data", {})
                for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)
    if not shown:  # the live views were replaced by their final summaries
        nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def main(names: list[str]) -> int:
    """Re-execute the notebooks named (all without names) and write them back with outputs."""
    paths = [NOTEBOOKS / name for name in names] or sorted(NOTEBOOKS.glob("*.ipynb"))
    with python3_kernel(), tempfile.TemporaryDirectory(prefix="stagekit-nb-") as cwd:
        for path in paths:
            nb = clean(execute(path, Path(cwd)))
            nbformat.write(nb, path)
            print(f"{path.name}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
