"""A run's bookkeeping in the store: failed catalog writes, temporary stores (issue 13)."""

from __future__ import annotations

import asyncio
import gc
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import stagekit
from stagekit.download import DownloadConfig
from stagekit.remotes.file import FileRemote
from stagekit.storage import Store
from stagekit.testing import make_file_repo, serve
from stagekit.testing.file import manifest_line

TIMEOUT = 60
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.02, read_timeout=5.0, tries=1)


def local_manifest(folder: Path, n: int = 3) -> str:
    """A file:// manifest of ``n`` small files (the user's own URLs may be file://)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        body = f"file {i}\n".encode() * 10
        (folder / f"f{i}.bin").write_bytes(body)
        lines.append(manifest_line(f"f{i}.bin", body))
    (folder / "PULP_MANIFEST").write_text("\n".join(lines) + "\n")
    return (folder / "PULP_MANIFEST").as_uri()


async def test_a_run_whose_records_cannot_be_written_is_marked_failed(tmp_path: Path) -> None:
    repo = make_file_repo(3, size=100, seed=3, subdirs=0)
    missing = next(p for p in repo.files if p.endswith(".bin"))
    del repo.files[missing]  # one unit fails: its record is written when the run ends
    root = tmp_path / "store"
    with Store(root):
        pass
    conn = sqlite3.connect(root / "catalog.sqlite3")
    conn.execute("CREATE TRIGGER disk_full BEFORE INSERT ON run_units WHEN NEW.status = "
                 "'failed' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    conn.commit()
    conn.close()
    with Store(root) as store:
        async with serve(repo) as server, asyncio.timeout(TIMEOUT):
            run = await stagekit.explore(FileRemote(server.url_for("PULP_MANIFEST")),
                                         store=store, download_config=FAST)
        assert run.status == "failed"
        assert "disk is full" in str(run.error)
        row = store.catalog.get_run(run.run_id)
    assert row["status"] == "failed"
    assert "its records could not be saved" in row["stats"]["error"]
    assert "disk is full" in row["stats"]["error"]


async def explore_bounded(url: str, **options: object) -> stagekit.Run:
    async with asyncio.timeout(TIMEOUT):
        return await stagekit.explore(FileRemote(url), **options)


def test_a_temporary_store_goes_with_its_run(tmp_path: Path) -> None:
    url = local_manifest(tmp_path / "remote")
    # asyncio.run joins the worker threads, which may hold the run a moment longer.
    run = asyncio.run(explore_bounded(url))
    path = run.store.path
    assert sum(1 for p in (path / "artifacts").rglob("*") if p.is_file()) == 3
    del run
    gc.collect()
    assert not path.exists()


async def test_keep_keeps_the_temporary_store_and_a_given_store_is_never_removed(
        tmp_path: Path) -> None:
    url = local_manifest(tmp_path / "remote")
    async with asyncio.timeout(TIMEOUT):
        kept = await stagekit.explore(FileRemote(url), keep=True)
        given = await stagekit.explore(FileRemote(url), store=tmp_path / "mine")
    kept_path, given_path = kept.store.path, given.store.path
    kept.store.close()
    given.store.close()
    del kept, given
    gc.collect()
    try:
        assert (kept_path / "catalog.sqlite3").is_file()
        assert (given_path / "catalog.sqlite3").is_file()
    finally:
        shutil.rmtree(kept_path)


def test_temporary_stores_are_removed_at_exit(tmp_path: Path) -> None:
    url = local_manifest(tmp_path / "remote")
    script = textwrap.dedent(f"""
        import stagekit
        from stagekit.remotes.file import FileRemote
        runs = [stagekit.explore_sync(FileRemote({url!r})) for _ in range(2)]
        for run in runs:
            print(run.store.path, run.stats["units"])
        """)  # the runs are still referenced when the interpreter exits
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = [line.split() for line in proc.stdout.splitlines()]
    assert [units for _, units in lines] == ["3", "3"]
    assert len({path for path, _ in lines}) == 2
    for path, _ in lines:
        assert not Path(path).exists()
