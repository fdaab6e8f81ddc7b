"""Store(durable=False): no flushes, the same atomic renames and checks; temp-file checks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import stagekit.storage.store as store_module
from stagekit.errors import StoreError
from stagekit.storage import Store


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _temp(store: Store, data: bytes) -> Path:
    """A finished download waiting in the store's temporary directory."""
    path = store.tmp_dir / f"download-{_sha(data)[:12]}.part"
    path.write_bytes(data)
    return path


@pytest.fixture
def flushes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every flush the store asks for (and makes none)."""
    calls: list[str] = []
    monkeypatch.setattr(store_module, "sync_filesystem",
                        lambda p, own=0: calls.append("syncfs") or True)
    monkeypatch.setattr(store_module, "fsync_file", lambda p: calls.append("fsync"))
    monkeypatch.setattr(store_module, "fsync_dir", lambda p: calls.append("fsync_dir"))
    return calls


def test_a_durable_store_flushes_each_batch(tmp_path: Path, flushes: list[str]) -> None:
    blobs = [b"one", b"two", b"three"]
    with Store(tmp_path / "store") as store:
        assert store.durable
        items = [(_temp(store, b), _sha(b), len(b), None) for b in blobs]
        store.commit_many(items)
    assert flushes == ["syncfs", "syncfs"]  # before and after the renames


def test_durable_false_stores_the_same_files_without_a_flush(
    tmp_path: Path, flushes: list[str]
) -> None:
    blobs = [b"one", b"two", b"three"]
    with Store(tmp_path / "store", durable=False) as store:
        items = [(_temp(store, b), _sha(b), len(b), None) for b in blobs]
        artifacts = store.commit_many(items)
        single = store.commit_temp(_temp(store, b"four"), _sha(b"four"), 4)
        assert [a.path.read_bytes() for a in artifacts if a.path] == blobs
        assert single.path is not None and single.path.read_bytes() == b"four"
        assert store.missing([_sha(b) for b in [*blobs, b"four"]]) == set()
        assert list(store.tmp_dir.iterdir()) == []  # moved, not copied
    assert flushes == []


def test_durable_false_keeps_the_size_check(tmp_path: Path, flushes: list[str]) -> None:
    with Store(tmp_path / "store", durable=False) as store:
        temp = _temp(store, b"data")
        with pytest.raises(StoreError, match="has 4 bytes, not 5"):
            store.commit_temp(temp, _sha(b"data"), 5)
        assert not temp.exists() and not store.artifact_path(_sha(b"data")).exists()


def test_a_link_in_the_temp_dir_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"data")
    with Store(tmp_path / "store") as store:
        first = _temp(store, b"first")  # the folder is now known to be inside tmp
        store.commit_temp(first, _sha(b"first"), 5)
        link = store.tmp_dir / "planted"
        link.symlink_to(outside)
        with pytest.raises(StoreError, match="not a regular file"):
            store.commit_temp(link, _sha(b"data"), 4)
        assert not store.artifact_path(_sha(b"data")).exists()
    assert outside.read_bytes() == b"data"


def test_a_file_under_a_linked_folder_in_tmp_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.bin").write_bytes(b"data")
    with Store(tmp_path / "store") as store:
        (store.tmp_dir / "sub").symlink_to(elsewhere)
        with pytest.raises(StoreError, match="temporary directory"):
            store.commit_temp(store.tmp_dir / "sub" / "x.bin", _sha(b"data"), 4)
    assert (elsewhere / "x.bin").read_bytes() == b"data"


def test_a_whole_filesystem_flush_is_not_used_while_others_have_unwritten_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """syncfs would wait for every other process's writes: past the limit, each file of
    the batch is fsynced instead (and a Ctrl-C waiting for the batch is not held up)."""
    import stagekit.storage._files as files_module

    syncs: list[int] = []
    monkeypatch.setattr(files_module, "_SYNCFS", lambda fd: syncs.append(fd) or 0)
    own = 5 << 20
    monkeypatch.setattr(files_module, "dirty_bytes",
                        lambda: own + files_module.OTHERS_DIRTY_LIMIT)
    assert files_module.sync_filesystem(tmp_path, own) and len(syncs) == 1
    assert not files_module.sync_filesystem(tmp_path, own - 1) and len(syncs) == 1
    monkeypatch.setattr(files_module, "dirty_bytes", lambda: None)  # not Linux
    assert not files_module.sync_filesystem(tmp_path) and len(syncs) == 1

    fsynced: list[str] = []
    monkeypatch.setattr(files_module, "dirty_bytes", lambda: 1 << 40)
    monkeypatch.setattr(store_module, "fsync_file", lambda p: fsynced.append(Path(p).name))
    blobs = [b"one", b"two", b"three"]
    with Store(tmp_path / "store") as store:
        items = [(_temp(store, b), _sha(b), len(b), None) for b in blobs]
        artifacts = store.commit_many(items)
        assert [a.path.read_bytes() for a in artifacts if a.path] == blobs
    assert sorted(fsynced) == sorted(Path(item[0]).name for item in items)
    assert len(syncs) == 1


def test_dirty_bytes_reads_the_machines_unwritten_data(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import stagekit.storage._files as files_module

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nDirty:              136 kB\n"
                       "Writeback:          0 kB\n")
    monkeypatch.setattr(files_module, "_MEMINFO", meminfo)
    assert files_module.dirty_bytes() == 136 * 1024
    meminfo.write_text("Dirty:              100 kB\nWriteback:         28 kB\n")
    assert files_module.dirty_bytes() is None  # no line before the first: not the format
    meminfo.write_text("MemTotal: 1 kB\nDirty:  100 kB\nWriteback:  28 kB\n")
    assert files_module.dirty_bytes() == 128 * 1024  # both count: neither is on disk yet
    meminfo.write_text("MemTotal:       24000000 kB\n")
    assert files_module.dirty_bytes() is None
    monkeypatch.setattr(files_module, "_MEMINFO", tmp_path / "missing")
    assert files_module.dirty_bytes() is None
