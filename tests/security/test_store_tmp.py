"""Opening a store never deletes or creates what is not the store's own (issue 13)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from stagekit.errors import StoreError
from stagekit.storage import Store


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``root`` with its mode, size and mtime (links not followed)."""
    result = {}
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        result[str(path.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return result


def make_store_with_a_run(root: Path) -> int:
    with Store(root) as store:
        store.add_bytes(b"payload")
        run_id = store.catalog.start_run("file http://127.0.0.1/x", {"session": store.session})
        store.catalog.finish_run(run_id, "finished", {"units": 0})
    return run_id


def test_user_files_in_tmp_survive_opening_the_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    (root / "tmp" / "notes").mkdir(parents=True)
    (root / "tmp" / "notes" / "thesis.tex").write_text("years of work")
    (root / "tmp" / "todo.txt").write_text("buy milk")
    dead = root / "tmp" / "s-999999-0123456789ab"  # a crashed store's session, no lock held
    dead.mkdir()
    (dead / "dl-partial").write_bytes(b"half")
    (root / "tmp" / "s-999999-0123456789ab.lock").touch()

    with Store(root) as store:
        left = sorted(p.name for p in (root / "tmp").iterdir())
        assert left == sorted(["notes", "todo.txt", store.tmp_dir.name,
                               store.tmp_dir.name + ".lock"])
    assert (root / "tmp" / "notes" / "thesis.tex").read_text() == "years of work"
    assert (root / "tmp" / "todo.txt").read_text() == "buy milk"
    assert not dead.exists()


def test_a_symlinked_tmp_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "precious.txt").write_text("keep me")
    (home / "s-1-0123456789ab").mkdir()  # even a session-like name behind the link stays
    root = tmp_path / "store"
    root.mkdir()
    (root / "tmp").symlink_to(home)

    with pytest.raises(StoreError, match=r"tmp is a symbolic link"):
        Store(root)
    assert sorted(p.name for p in home.iterdir()) == ["precious.txt", "s-1-0123456789ab"]
    assert (home / "precious.txt").read_text() == "keep me"


def test_a_symlinked_artifacts_directory_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root = tmp_path / "store"
    root.mkdir()
    (root / "artifacts").symlink_to(elsewhere)
    with pytest.raises(StoreError, match=r"artifacts is a symbolic link"):
        Store(root)
    assert list(elsewhere.iterdir()) == []


def test_readonly_open_of_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "store"
    with pytest.raises(StoreError, match=f"no stagekit store at {missing}"):
        Store(missing, readonly=True)
    assert not (tmp_path / "no").exists()
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(StoreError, match="no stagekit store"):
        Store.open_existing(plain)
    assert list(plain.iterdir()) == []


def test_readonly_open_lists_runs_and_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "store"
    run_id = make_store_with_a_run(root)
    dead = root / "tmp" / "s-999999-0123456789ab"
    dead.mkdir()
    (root / "tmp" / "other.txt").write_text("user")
    before = snapshot(root)

    with Store(root, readonly=True) as store:
        runs = store.runs()
        assert [(r["id"], r["status"]) for r in runs] == [(run_id, "finished")]
        assert store.load_run(run_id).run["status"] == "finished"
        with pytest.raises(StoreError, match="read-only"):
            store.add_bytes(b"new")
        with pytest.raises(StoreError, match="readonly"):
            store.catalog.start_run("x")
    # No cleanup, no session, no new folder, no journal file left behind.
    assert snapshot(root) == before


def _as_unprivileged(command: list[str]) -> list[str]:
    """``command`` run as nobody when we are root (root ignores file modes)."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]


def _unprivileged_python_works() -> bool:
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return False
    probe = _as_unprivileged([sys.executable, "-c", "import stagekit.storage"])
    return subprocess.run(probe, capture_output=True, timeout=60, check=False).returncode == 0


def test_a_store_without_write_permission_can_be_listed() -> None:
    if not _unprivileged_python_works():
        pytest.skip("cannot run stagekit as an unprivileged user here (no setpriv, or the "
                    "checkout is not readable by nobody)")
    base = Path(tempfile.mkdtemp(prefix="stagekit-ro-"))
    try:
        root = base / "store"
        run_id = make_store_with_a_run(root)
        for path in [base, *base.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        script = textwrap.dedent(f"""
            from stagekit.storage import Store
            with Store({str(root)!r}, readonly=True) as store:
                runs = store.runs()
                print(len(runs), runs[0]["status"], store.load_run({run_id}).run["status"])
            """)
        proc = subprocess.run(_as_unprivileged([sys.executable, "-c", script]),
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == ["1", "finished", "finished"]
    finally:
        for path in [base, *base.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(base)


def test_readonly_open_sees_a_live_writers_runs(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with Store(root) as writer:
        run_id = writer.catalog.start_run("file http://127.0.0.1/x", {"session": writer.session})
        with Store.open_existing(root) as reader:
            assert [(r["id"], r["status"]) for r in reader.runs()] == [(run_id, "running")]
            live = sorted(p.name for p in (root / "tmp").iterdir())
        assert live == sorted([writer.tmp_dir.name, writer.tmp_dir.name + ".lock"])


def test_readonly_open_shows_a_dead_processs_run_as_interrupted(tmp_path: Path) -> None:
    root = tmp_path / "store"
    script = textwrap.dedent(f"""
        import os
        from stagekit.storage import Store
        store = Store({str(root)!r})
        print(store.catalog.start_run("file x", {{"session": store.session}}), flush=True)
        os._exit(1)  # killed mid-run: the run stays "running" in the catalog
        """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    run_id = int(proc.stdout)
    before = snapshot(root)
    with Store.open_existing(root) as store:
        assert [(r["id"], r["status"]) for r in store.runs()] == [(run_id, "interrupted")]
        assert store.load_run(run_id).run["status"] == "interrupted"
        assert store.catalog.get_run(run_id)["status"] == "running"  # nothing was written
    # SQLite rebuilds the -shm index of the WAL the dead process left; nothing else changes.
    after = snapshot(root)
    assert {k: v for k, v in after.items() if not k.endswith("-shm")} == {
        k: v for k, v in before.items() if not k.endswith("-shm")}


def test_a_store_reached_through_a_link_still_opens(tmp_path: Path) -> None:
    # Only links inside the store are refused; where the user keeps it is their choice.
    (tmp_path / "big-disk" / "store").mkdir(parents=True)
    (tmp_path / "store").symlink_to(tmp_path / "big-disk" / "store")
    with Store(tmp_path / "store") as store:
        artifact = store.add_bytes(b"data")
        assert store.has(artifact.sha256)
    assert (tmp_path / "big-disk" / "store" / "catalog.sqlite3").is_file()
