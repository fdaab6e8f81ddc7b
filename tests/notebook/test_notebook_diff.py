"""notebooks/05_what_changed.ipynb runs in a real kernel and shows the diff."""

from __future__ import annotations

from tests.notebook.test_notebooks import code_outputs, execute, text


def test_what_changed_notebook_shows_the_diff_coloured_and_drawn(tmp_path):
    nb = execute("05_what_changed.ipynb", tmp_path)
    outputs = code_outputs(nb)
    table = text(outputs[1])
    assert "file:dir0/release-notes.txt" in table and "file:dir2/file-00005.bin" in table
    coloured = outputs[2][0]["data"]["text/html"]
    assert "1 added" in coloured and "1 removed" in coloured and "1 changed" in coloured
    drawing = outputs[3][0]["data"]["text/html"]  # the tree, inline so its tooltips show
    assert "<svg" in drawing and "added" in drawing and "changed" in drawing
    assert "{'added': 1, 'removed': 1, 'changed': 1}" in text(outputs[4])
