"""A cancelled run's counts and bytes are what reached the store and the catalog."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

import stagekit
from stagekit.remotes.file import FileRemote
from stagekit.stages.content import ContentSaver
from stagekit.storage import Store
from stagekit.storage.catalog import Catalog
from stagekit.testing import serve
from stagekit.testing.file import make_file_repo
from tests.faults.support import FAST, TIMEOUT, stored_files

N_FILES = 240


def cancel_from_thread(monkeypatch, cls, name: str, when: int, holder: dict) -> None:
    """Make ``cls.name`` cancel the run from its worker thread, once ``when`` calls in,
    right after its real work: the cancel lands while the stage awaits that thread."""
    real = getattr(cls, name)
    calls = [0]

    def wrapped(self, *args, **kwargs):
        result = real(self, *args, **kwargs)
        calls[0] += 1
        if calls[0] == when:
            run, loop = holder["run"], holder["loop"]
            loop.call_soon_threadsafe(run.cancel)
        return result

    monkeypatch.setattr(cls, name, wrapped)


@pytest.mark.parametrize("where", ["store commit", "catalog write"])
async def test_cancelled_run_reports_what_reached_store_and_catalog(tmp_path, monkeypatch,
                                                                    where) -> None:
    repo = make_file_repo(N_FILES, size=(100, 3000), seed=31)
    holder: dict = {"loop": asyncio.get_running_loop()}
    if where == "store commit":
        cancel_from_thread(monkeypatch, Store, "commit_many", 2, holder)
    else:
        cancel_from_thread(monkeypatch, Catalog, "save_declared", 1, holder)
        # Batches smaller than the run, so the cancel lands in the middle of it.
        real_init = ContentSaver.__init__
        monkeypatch.setattr(ContentSaver, "__init__", lambda self, store, run_id=None, **_:
                            real_init(self, store, run_id, minsize=N_FILES // 4))
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        run = stagekit.Run(FileRemote(server.url_for(repo.manifest_path)), store=store,
                           download_config=FAST)
        holder["run"] = run
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(TIMEOUT):
                await run
    assert run.status == "cancelled"
    on_disk = stored_files(store)
    assert 0 < len(on_disk) <= N_FILES
    stats = run.stats
    # Bytes and downloaded artifacts: exactly the files in the store.
    assert stats["bytes"] == sum(len(body) for body in on_disk.values())
    artifacts = run.artifacts_dataframe()
    downloaded = artifacts[artifacts["status"] == "downloaded"]
    assert set(downloaded["sha256"]) == set(on_disk)
    assert all(hashlib.sha256(on_disk[s]).hexdigest() == s for s in downloaded["sha256"])
    # Units: what the run says it saved is what the catalog holds for it, and back.
    frame = run.to_dataframe()
    saved = set(frame.loc[frame["status"].astype(str) != "discovered", "key"])
    recorded = store.load_run(run.run_id)
    in_catalog = {u["key"] for u in recorded.units if u["status"] not in (None, "discovered")}
    assert saved == in_catalog
    assert stats["statuses"].get("downloaded", 0) == len(saved)
    if where == "catalog write":
        assert 0 < len(saved) < N_FILES  # the batch written while the cancel came counts
    else:
        assert len(on_disk) < N_FILES
