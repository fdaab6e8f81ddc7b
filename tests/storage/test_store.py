from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stagekit.errors import StoreError
from stagekit.storage import Store
from tests.backends import Backend


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


@pytest.fixture
def store(backend: Backend, tmp_path: Path):
    with backend.store(tmp_path / "store") as s:
        yield s


def test_open_creates_layout(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        assert (tmp_path / "s" / "artifacts").is_dir()
        assert (tmp_path / "s" / "catalog.sqlite3").is_file()
        assert store.tmp_dir.parent == tmp_path / "s" / "tmp"
        assert store.tmp_dir.is_dir()


def test_temp_file_is_not_under_digest_path_until_commit(store: Store) -> None:
    data = b"x" * 100_000
    sha = _sha(data)
    with store.new_temp_file() as tmp:
        tmp.write(data[:50_000])
        assert tmp.path.parent == store.tmp_dir
        assert not store.artifact_path(sha).exists()
        assert _files_under(store.artifacts_dir) == []
        tmp.write(data[50_000:])
        assert not store.has(sha)
        artifact = tmp.commit(sha, len(data))
    assert artifact.path == store.artifact_path(sha)
    assert artifact.path.read_bytes() == data
    assert artifact.size == len(data)
    assert artifact.digests["sha256"] == sha
    assert not tmp.path.exists()
    assert _files_under(store.artifacts_dir) == [store.artifact_path(sha)]
    assert store.artifact_path(sha).parent.name == sha[:2]


def test_temp_file_is_removed_when_the_block_fails(store: Store) -> None:
    with pytest.raises(RuntimeError), store.new_temp_file() as tmp:
        tmp.write(b"partial")
        raise RuntimeError("download broke")
    assert not tmp.path.exists()
    assert list(store.tmp_dir.iterdir()) == []
    assert _files_under(store.artifacts_dir) == []


def test_leftovers_of_a_crashed_run_are_removed_on_open(tmp_path: Path) -> None:
    root = tmp_path / "store"
    script = textwrap.dedent(
        f"""
        import os
        from stagekit.storage import Store
        store = Store({str(root)!r})
        tmp = store.new_temp_file()
        tmp.write(b"half a download")
        tmp.file.flush()
        print(tmp.path, flush=True)
        os._exit(1)  # crash: no close, no cleanup
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 1, proc.stderr
    leftover = Path(proc.stdout.strip())
    assert leftover.read_bytes() == b"half a download"
    stray = root / "tmp" / "stray.part"
    stray.write_bytes(b"junk")

    with Store(root) as store:
        assert not leftover.exists()
        assert not leftover.parent.exists()
        assert stray.read_bytes() == b"junk"  # not a name the store gives: never removed
        remaining = sorted(p.name for p in (root / "tmp").iterdir())
        assert remaining == sorted([store.tmp_dir.name, store.tmp_dir.name + ".lock",
                                    "stray.part"])


def test_opening_the_store_again_keeps_a_live_stores_temp_files(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as writer:
        tmp = writer.new_temp_file()
        tmp.write(b"in flight")
        with Store(tmp_path / "s") as reader:
            assert tmp.path.exists()
            assert reader.tmp_dir != writer.tmp_dir
        artifact = tmp.commit(_sha(b"in flight"), 9)
        assert artifact.path.read_bytes() == b"in flight"


def test_close_removes_own_temp_dir(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    tmp = store.new_temp_file()
    tmp.write(b"abc")
    tmp.close()
    store.close()
    assert not store.tmp_dir.exists()
    assert list((tmp_path / "s" / "tmp").iterdir()) == []
    store.close()  # idempotent


def test_commit_keeps_the_existing_file(store: Store) -> None:
    first = store.add_bytes(b"same bytes")
    inode = first.path.stat().st_ino
    with store.new_temp_file() as tmp:
        tmp.write(b"same bytes")
        second = tmp.commit(first.sha256, first.size)
    assert second.path == first.path
    assert first.path.stat().st_ino == inode
    assert not tmp.path.exists()
    assert list(store.tmp_dir.iterdir()) == []


def test_commit_rejects_wrong_size_and_drops_the_temp(store: Store) -> None:
    data = b"twelve bytes"
    tmp = store.new_temp_file()
    tmp.write(data)
    tmp.close()
    with pytest.raises(StoreError, match="12 bytes, not 13"):
        store.commit_temp(tmp.path, _sha(data), 13)
    assert not tmp.path.exists()
    assert not store.artifact_path(_sha(data)).exists()


def test_commit_with_verify_rejects_wrong_digest(store: Store) -> None:
    wrong = _sha(b"other")
    tmp = store.new_temp_file()
    tmp.write(b"actual")
    with pytest.raises(StoreError, match="hashes to"):
        tmp.commit(wrong, 6, verify=True)
    assert not store.artifact_path(wrong).exists()
    assert not tmp.path.exists()


def test_commit_rejects_a_file_outside_the_temp_dir(store: Store, tmp_path: Path) -> None:
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"data")
    with pytest.raises(StoreError, match="temporary directory"):
        store.commit_temp(outside, _sha(b"data"), 4)
    assert outside.exists()
    assert not store.artifact_path(_sha(b"data")).exists()


@pytest.mark.parametrize(
    "bad",
    [
        "../" * 10 + "etc/passwd",
        "ab/../../x" + "0" * 54,
        "A" * 64,
        "0" * 63,
        "0" * 65,
        "0" * 63 + "/",
        "g" * 64,
        "",
        None,
    ],
)
def test_artifact_path_rejects_anything_but_sha256_hex(store: Store, bad: object) -> None:
    with pytest.raises(StoreError, match="sha256"):
        store.artifact_path(bad)  # type: ignore[arg-type]


def test_has_missing_and_verify_detect_a_damaged_file(store: Store) -> None:
    good = store.add_bytes(b"good file")
    bad = store.add_bytes(b"file to damage")
    store.catalog.save_artifacts([good, bad])
    absent = _sha(b"never stored")
    bad.path.write_bytes(b"short")

    assert store.has(good.sha256)
    assert not store.has(bad.sha256)
    assert not store.has(absent)
    assert store.has(good.sha256, size=good.size)
    assert not store.has(good.sha256, size=good.size + 1)
    assert store.missing([good.sha256, bad.sha256, absent]) == {bad.sha256, absent}
    assert store.verify(good.sha256)
    assert not store.verify(bad.sha256)
    assert not store.verify(absent)


def test_get_artifact_reads_catalog_digests(store: Store) -> None:
    data = b"payload"
    artifact = store.add_bytes(data)
    md5 = hashlib.md5(data).hexdigest()
    store.catalog.save_artifacts([{"sha256": artifact.sha256, "size": 7, "digests": {"md5": md5}}])
    got = store.get_artifact(artifact.sha256)
    assert got is not None
    assert got.digests == {"sha256": artifact.sha256, "md5": md5}
    assert got.read_bytes() == data
    assert store.get_artifact(_sha(b"nothing")) is None


def test_hash_file_returns_extra_digests(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc" * 1000)
    sha, size, digests = Store.hash_file(path, ["sha1"])
    assert sha == _sha(b"abc" * 1000)
    assert size == 3000
    assert digests["sha1"] == hashlib.sha1(b"abc" * 1000).hexdigest()


def test_existing_content_needs_its_file_on_disk(store: Store) -> None:
    artifact = store.add_bytes(b"pom text")
    run = store.catalog.start_run("file:///repo", {})
    store.catalog.save_batch(
        run,
        contents=[{"kind": "pom", "natural_key": ("g", "a", "1"), "status": "downloaded"}],
        artifacts=[artifact],
        links=[
            {
                "key": "pom:g:a:1",
                "relative_path": "a.pom",
                "url": "file:///repo/a.pom",
                "sha256": artifact.sha256,
            }
        ],
    )
    assert "pom:g:a:1" in store.catalog.existing_contents(["pom:g:a:1"])
    assert store.catalog.existing_artifacts([artifact.sha256]) == {artifact.sha256}
    os.unlink(artifact.path)
    assert store.catalog.existing_contents(["pom:g:a:1"]) == {}
    assert store.catalog.existing_artifacts([artifact.sha256]) == set()


def test_store_runs_and_load_run_delegate_to_the_catalog(store: Store) -> None:
    run = store.catalog.start_run("file:///r", {"policy": "immediate"})
    store.catalog.save_contents(run, [{"kind": "f", "natural_key": ("x",), "status": "failed"}])
    store.catalog.finish_run(run, "failed", {"errors": 1})
    assert [r["id"] for r in store.runs()] == [run]
    records = store.load_run(run)
    assert records.run["status"] == "failed"
    assert [u["key"] for u in records.units] == ["f:x"]


def test_open_marks_runs_of_dead_sessions_interrupted_and_spares_live_ones(
    backend: Backend, tmp_path: Path
) -> None:
    first = backend.store(tmp_path / "s")
    live = backend.store(tmp_path / "s")  # another open store on the same path
    dead_run = first.catalog.start_run("remote", {"session": first.session})
    live_run = live.catalog.start_run("remote", {"session": live.session})
    bare_run = first.catalog.start_run("remote", {})  # no session recorded: left alone
    first.close()  # its session is now dead, its run never finished
    reopened = backend.store(tmp_path / "s")
    statuses = {r["id"]: r["status"] for r in reopened.runs()}
    assert statuses == {dead_run: "interrupted", live_run: "running", bare_run: "running"}
    live.close()
    reopened.close()
