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
    monkeypatch.setattr(store_module, "sync_filesystem", lambda p: calls.append("syncfs") or True)
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
