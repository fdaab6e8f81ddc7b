"""notebooks/05_what_changed.ipynb runs in a real kernel and shows the diff."""

from __future__ import annotations

from tests.notebook.test_notebooks import (
    WIDGET_VIEW,
    code_outputs,
    execute,
    saved_graph,
    text,
    widget_states,
)


def test_what_changed_notebook_shows_the_diff_coloured_and_drawn(tmp_path):
    nb = execute("05_what_changed.ipynb", tmp_path)
    outputs = code_outputs(nb)
    table = text(outputs[1])
    assert "file:dir0/release-notes.txt" in table and "file:dir2/file-00005.bin" in table
    coloured = outputs[2][0]["data"]["text/html"]
    assert "1 added" in coloured and "1 removed" in coloured and "1 changed" in coloured
    drawing = outputs[3][0]["data"]["text/html"]  # the tree, inline so its tooltips show
    assert "<svg" in drawing and "added" in drawing and "changed" in drawing
    # The interactive graph with the diff: one unit per change, the removed one a ghost.
    (view,) = outputs[4]
    graph = saved_graph(widget_states(nb)[view["data"][WIDGET_VIEW]["model_id"]])
    diff = graph["diff"]
    assert [graph["keys"][i] for i in diff["ghosts"]] == ["file:dir2/file-00005.bin"]
    assert [graph["keys"][i] for i in diff["added"]] == ["file:dir0/release-notes.txt"]
    assert [graph["keys"][i] for i in diff["changed"]] == ["file:dir1/file-00004.bin"]
    assert "{'added': 1, 'removed': 1, 'changed': 1}" in text(outputs[5])
