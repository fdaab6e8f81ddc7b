"""Files planted at a digest path are not trusted as stored (issue 13)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

import stagekit
from stagekit.download import DownloadConfig
from stagekit.errors import StoreError
from stagekit.remotes.file import FileRemote
from stagekit.storage import Store
from stagekit.testing import make_file_repo, serve

TIMEOUT = 60
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.02, read_timeout=5.0)


async def explore(url: str, store: Store) -> stagekit.Run:
    async with asyncio.timeout(TIMEOUT):
        return await stagekit.explore(FileRemote(url), store=store, download_config=FAST)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_statuses(run: stagekit.Run) -> dict[str, str]:
    return dict(run.to_dataframe().set_index("key")["status"].astype(str))


async def test_a_planted_symlink_is_downloaded_over_and_its_target_untouched(
        tmp_path: Path) -> None:
    repo = make_file_repo(3, size=700, seed=7, subdirs=0)
    bodies = {path: f.body for path, f in repo.files.items() if path.endswith(".bin")}
    victim = tmp_path / "victim"  # what the link points at: right size and even right bytes
    victim.write_bytes(next(iter(bodies.values())))
    with Store(tmp_path / "store") as store:
        for body in bodies.values():
            planted = store.artifact_path(sha(body))
            planted.parent.mkdir(parents=True, exist_ok=True)
            planted.symlink_to(victim)
        assert store.missing(sha(b) for b in bodies.values()) == {sha(b) for b in bodies.values()}
        assert store.get_artifact(sha(next(iter(bodies.values())))) is None
        async with serve(repo) as server:
            run = await explore(server.url_for("PULP_MANIFEST"), store)
            assert {p: server.counters.count(p) for p in bodies} == dict.fromkeys(bodies, 1)
        assert run.errors == []
        assert set(file_statuses(run).values()) == {"downloaded"}
        for body in bodies.values():
            path = store.artifact_path(sha(body))
            assert not path.is_symlink()
            assert path.read_bytes() == body
    assert victim.read_bytes() == next(iter(bodies.values()))


async def test_verify_replaces_a_same_size_planted_file(tmp_path: Path) -> None:
    repo = make_file_repo(2, size=500, seed=8, subdirs=0)
    bodies = {path: f.body for path, f in repo.files.items() if path.endswith(".bin")}
    target_path, target = next(iter(bodies.items()))
    async with serve(repo) as server:
        url = server.url_for("PULP_MANIFEST")
        with Store(tmp_path / "store") as store:
            await explore(url, store)
            planted = store.artifact_path(sha(target))
            planted.write_bytes(b"\0" * len(target))  # same size, other bytes
        # Trusted by size without verify: that is the documented cost of not re-hashing.
        with Store(tmp_path / "store") as store:
            run = await explore(url, store)
            assert set(file_statuses(run).values()) == {"existing"}
            assert server.counters.count(target_path) == 1
        with Store(tmp_path / "store", verify=True) as store:
            assert store.verify_existing
            run = await explore(url, store)
            statuses = file_statuses(run)
            assert server.counters.count(target_path) == 2
            assert {p: server.counters.count(p) for p in bodies if p != target_path} == {
                p: 1 for p in bodies if p != target_path}
            assert statuses == {**{f"file:{p}": "existing" for p in bodies if p != target_path},
                                f"file:{target_path}": "downloaded"}
            assert planted.read_bytes() == target
            assert store.verify(sha(target))


def test_verify_hashes_each_file_once_per_open(tmp_path: Path) -> None:
    with Store(tmp_path / "store", verify=True) as store:
        artifact = store.add_bytes(b"abc" * 100)
        assert artifact.path is not None
        assert store.has(artifact.sha256)
        artifact.path.write_bytes(b"xyz" * 100)  # changed after this open trusted it
        assert store.has(artifact.sha256)  # (only a new open or verify() sees it)
        assert not store.verify(artifact.sha256)
    with Store(tmp_path / "store", verify=True) as store:
        assert store.missing([artifact.sha256]) == {artifact.sha256}


def test_a_linked_digest_directory_is_refused_on_commit(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data = b"payload"
    with Store(tmp_path / "store") as store:
        store.artifact_path(sha(data)).parent.symlink_to(elsewhere)
        assert not store.has(sha(data))
        with pytest.raises(StoreError, match="is a symbolic link"):
            store.add_bytes(data)
    assert list(elsewhere.iterdir()) == []
