"""stagekit.diff: units added, removed and changed between two explorations."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import stagekit
from stagekit import DeclarativeArtifact
from stagekit.cli import main
from stagekit.errors import ConfigurationError, StoreError
from stagekit.remotes.file import FileRemote
from stagekit.testing import make_file_repo, serve
from tests.faults.support import FAST, ListRemote

TIMEOUT = 60


async def explore(remote, store, **options) -> stagekit.Run:
    async with asyncio.timeout(TIMEOUT):
        return await stagekit.explore(remote, store=store, download_config=FAST, **options)


@pytest.fixture
async def two_runs(tmp_path):
    """Run 1 over ten files; then one file changed, one removed, one added; run 2."""
    repo = make_file_repo(10, size=(200, 900), seed=41)
    store = tmp_path / "store"
    async with serve(repo) as server:
        remote = FileRemote(server.url_for(repo.manifest_path))
        first = await explore(remote, store)
        repo.put("dir1/file-00001.bin", b"new bytes of file one")
        repo.remove("dir2/file-00002.bin")
        repo.put("dir0/added.bin", b"a file that was not there")
        second = await explore(remote, store)
    return first, second, repo, store


EXPECTED = [("added", "file:dir0/added.bin"), ("removed", "file:dir2/file-00002.bin"),
            ("changed", "file:dir1/file-00001.bin")]


def as_pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(frame["change"].astype(str), frame["key"], strict=True))


async def test_diff_of_two_runs_lists_added_removed_and_changed_units(two_runs) -> None:
    first, second, _repo, _ = two_runs
    frame = stagekit.diff(first, second)
    assert as_pairs(frame) == EXPECTED  # the seven unchanged files are left out
    assert list(frame.columns) == ["key", "kind", "change", "depth", "old_digest",
                                   "new_digest", "old_size", "new_size", "paths"]
    row = frame.set_index("key").loc["file:dir1/file-00001.bin"]
    assert row["new_digest"] == hashlib.sha256(b"new bytes of file one").hexdigest()
    assert row["old_digest"] == first.artifacts_dataframe().set_index("relative_path").loc[
        "dir1/file-00001.bin", "sha256"]
    assert (row["new_size"], row["depth"], row["paths"]) == (21, 0, "dir1/file-00001.bin")
    added = frame.set_index("key").loc["file:dir0/added.bin"]
    assert pd.isna(added["old_digest"]) and added["new_size"] == 25
    removed = frame.set_index("key").loc["file:dir2/file-00002.bin"]
    assert pd.isna(removed["new_digest"]) and removed["old_size"] > 0
    assert first.diff(second).equals(frame)


async def test_diff_from_run_ids_equals_the_diff_of_the_runs(two_runs) -> None:
    first, second, _, store = two_runs
    from_ids = stagekit.diff(first.run_id, second.run_id, store=store)
    assert from_ids.equals(stagekit.diff(first, second))
    assert first.diff(second.run_id).equals(from_ids)
    assert stagekit.diff(second.run_id, second.run_id, store=store).empty
    assert as_pairs(stagekit.diff(second, first)) == [
        ("added", "file:dir2/file-00002.bin"), ("removed", "file:dir0/added.bin"),
        ("changed", "file:dir1/file-00001.bin")]
    with pytest.raises(ConfigurationError, match="store="):
        stagekit.diff(1, 2)
    with pytest.raises(StoreError):
        stagekit.diff(first.run_id, 99, store=store)


async def test_a_deferred_payload_that_changed_upstream_is_changed(tmp_path) -> None:
    version = {"digest": "a" * 64, "size": 10}

    def build(name):
        return [DeclarativeArtifact("http://127.0.0.1:9/never-fetched", "payload.iso",
                                    digests={"sha256": version["digest"]},
                                    size=version["size"], deferred=True)]

    store = tmp_path / "store"
    first = await explore(ListRemote(["iso", "other"], build), store, policy="metadata-only")
    version.update(digest="b" * 64)
    second = await explore(ListRemote(["iso", "other"], build), store, policy="metadata-only")
    for frame in (stagekit.diff(first, second),
                  stagekit.diff(first.run_id, second.run_id, store=store)):
        assert sorted(frame["key"]) == ["fault.item:iso", "fault.item:other"]
        assert set(frame["change"]) == {"changed"}
        assert set(frame["new_digest"]) == {"b" * 64}


async def test_stagekit_diff_command_prints_writes_and_exits_by_change(two_runs, tmp_path,
                                                                       capsys) -> None:
    first, second, _, store = two_runs
    out = tmp_path / "diff.csv"
    code = main(["diff", str(first.run_id), str(second.run_id), "--store", str(store),
                 "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 1
    assert "file:dir0/added.bin" in printed and "1 added, 1 removed, 1 changed" in printed
    assert as_pairs(pd.read_csv(out)) == EXPECTED
    assert main(["diff", str(second.run_id), str(second.run_id), "--store", str(store)]) == 0
    assert "nothing changed" in capsys.readouterr().out
    assert main(["diff", "1", "99", "--store", str(store)]) == 2
    assert "99" in capsys.readouterr().err
    assert main(["diff", "1", "2", "--store", str(tmp_path / "nowhere")]) == 2
    assert main(["diff", "1", "2", "--store", str(store), "--out", "x.txt"]) == 2


async def test_stagekit_diff_from_the_shell(two_runs, tmp_path) -> None:
    first, second, _, store = two_runs
    exe = shutil.which("stagekit") or str(Path(__file__).parents[1] / ".venv/bin/stagekit")
    out = tmp_path / "diff.parquet"
    done = await asyncio.to_thread(
        subprocess.run, [exe, "diff", str(first.run_id), str(second.run_id), "--store",
                         str(store), "--out", str(out)],
        capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 1, done.stderr
    assert "file:dir1/file-00001.bin" in done.stdout
    assert as_pairs(pd.read_parquet(out)) == EXPECTED


async def test_notebook_view_colours_each_change_and_draws_the_new_tree(two_runs) -> None:
    from stagekit.notebook import DiffView, draw_diff, show_diff
    from stagekit.notebook.diff_view import CHANGE_COLOURS
    from stagekit.notebook.draw import STATUS_COLOURS

    first, second, _repo, _store = two_runs
    frame = stagekit.diff(first, second)
    page = DiffView(frame)._repr_html_()
    assert "1 added" in page and "1 removed" in page and "1 changed" in page
    for key in frame["key"]:
        assert key in page
    assert "#e6f4e3" in page and "#fbe3e3" in page and "#fdebd9" in page  # a tint per change
    assert "nothing" in show_diff(second, second)._repr_html_()
    before = dict(STATUS_COLOURS)
    svg = draw_diff(second, frame).data
    assert CHANGE_COLOURS["added"] in svg and CHANGE_COLOURS["changed"] in svg
    assert CHANGE_COLOURS["unchanged"] in svg  # the seven files that did not change
    assert STATUS_COLOURS == before  # the status colours are back as they were
