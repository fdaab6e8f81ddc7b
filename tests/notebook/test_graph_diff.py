"""What changed, on the interactive graph: colours per change and the removed units as ghosts."""

from __future__ import annotations

import asyncio

import networkx as nx
import pytest

import stagekit
from stagekit.notebook import graph_html, graph_widget
from stagekit.notebook.diff_view import CHANGE_COLOURS
from stagekit.testing import serve
from stagekit.testing.repo import StaticFile
from tests.notebook.remotes import LinkedPages, make_linked_repo

TIMEOUT = 60


@pytest.fixture
async def two_runs(tmp_path):
    """Linked pages explored, changed (a jar gone, one rewritten, one new), explored again."""
    repo = make_linked_repo(layers=3, width=3, seed=5, jar_size=64)
    async with serve(repo) as server, asyncio.timeout(TIMEOUT):
        before = await stagekit.explore(LinkedPages(server.url), store=tmp_path / "s")
        page = repo.files["l1/p2.pom"].body.decode()
        # l1/p2's jar is no longer listed, l1/p1's has new bytes, l0/p0 lists a new jar.
        repo.files["l1/p2.pom"] = StaticFile(page.replace("jar l1/p2.jar\n", "").encode())
        repo.files["l1/p1.jar"] = StaticFile(b"version two")
        repo.files["l0/p0.pom"] = StaticFile(repo.files["l0/p0.pom"].body + b"jar new.jar\n")
        repo.files["new.jar"] = StaticFile(b"new")
        # A store of its own: pages declare no digest, so one store would reuse them.
        after = await stagekit.explore(LinkedPages(server.url), store=tmp_path / "s2")
    return before, after, "demo.jar:l1/p2.jar", "demo.jar:l1/p1.jar"


def keys_of(data: dict, indices: list[int]) -> list[str]:
    return sorted(data["keys"][i] for i in indices)


async def test_diff_mode_sends_each_change_and_the_removed_units_as_ghosts(two_runs):
    before, after, gone, rewritten = two_runs
    widget = graph_widget(after, diff=before)
    data = widget.data
    assert widget.color_by == "diff"
    changes = stagekit.diff(before, after)
    by_change = {c: sorted(changes.loc[changes["change"] == c, "key"])
                 for c in ("added", "removed", "changed")}
    # The rewritten jar, and the two pages whose bodies were edited.
    assert by_change["removed"] == [gone]
    assert by_change["changed"] == sorted([rewritten, "demo.pom:l0/p0.pom", "demo.pom:l1/p2.pom"])
    assert by_change["added"] == ["demo.jar:new.jar"]
    for change, keys in by_change.items():
        assert keys_of(data, data["diff"][change]) == keys
    # The ghost: in the older run only, at its old depth, linked to its old parent.
    assert keys_of(data, data["diff"]["ghosts"]) == [gone]
    ghost = data["keys"].index(gone)
    assert data["depth"][ghost] == before.graph.nodes[gone]["depth"]
    parents = {data["keys"][a] for a, b in zip(data["src"], data["dst"], strict=True)
               if b == ghost}
    assert parents == set(before.graph.predecessors(gone)) and parents
    assert len(data["keys"]) == len(after.graph) + 1
    assert data["diff"]["colours"] == CHANGE_COLOURS
    widget.close()


async def test_diff_takes_the_frame_too_and_is_checked(two_runs):
    before, after, gone, _ = two_runs
    frame = stagekit.diff(before, after)
    widget = graph_widget(after.graph, diff=frame, color_by="kind")
    assert widget.color_by == "kind"  # the diff is there, coloured on demand in the view
    assert keys_of(widget.data, widget.data["diff"]["ghosts"]) == [gone]
    ghost = widget.data["keys"].index(gone)
    assert not any(ghost in (a, b) for a, b in zip(widget.data["src"], widget.data["dst"],
                                                   strict=True))  # no old graph: unlinked
    widget.close()
    with pytest.raises(ValueError, match="color_by='diff' needs diff="):
        graph_widget(after, color_by="diff")
    with pytest.raises(TypeError, match=r"DataFrame of stagekit\.diff"):
        graph_widget(after.graph, diff=before)
    with pytest.raises(TypeError, match=r"older stagekit\.Run"):
        graph_widget(after, diff=nx.DiGraph())


async def test_offline_page_carries_the_diff(two_runs):
    before, after, gone, _ = two_runs
    page = graph_html(after, diff=before)
    assert '"color_by": "diff"' in page and gone in page and '"ghosts"' in page
