"""A file's status on a cluster follows the run's claims, not one worker's memory.

`process_batch` is called here as a Dask worker would call it; a new run token stands for
another worker process (nothing in memory from the batches before), and the same batch
sent twice for a batch that Dask retried after its first worker died.
"""

from __future__ import annotations

import asyncio
import hashlib
import pickle
import uuid
from pathlib import Path
from typing import Any

from stagekit.cluster._batch import process_batch
from stagekit.cluster._claims import create_claims_table, forget_claims
from stagekit.cluster._remote import store_spec
from stagekit.cluster._wire import dc_out, dumps, loads
from stagekit.cluster._worker import shutdown_run
from stagekit.download import DownloadConfig
from stagekit.models import DeclarativeArtifact, DeclarativeContent
from stagekit.remotes.file import FileRemote, FileUnit
from stagekit.storage import Store
from stagekit.testing import serve
from stagekit.testing.repo import Repo, StaticFile
from tests.backends import Artifacts, Backend

A = b"a" * 300
OLD = b"o" * 200
FILES = {"/f/a": A, "/f/a-again": A, "/f/old": OLD}


def _unit(server: Any, name: str, *, declared: bool) -> DeclarativeContent:
    body = FILES[f"/f/{name}"]
    sha256 = hashlib.sha256(body).hexdigest()
    da = DeclarativeArtifact(server.url_for(f"/f/{name}"), name,
                             digests={"sha256": sha256} if declared else None)
    return DeclarativeContent(FileUnit(name, sha256, len(body)), [da])


def _batch(worker: str, store: Store, run_id: int, units: list[DeclarativeContent],
           remote: FileRemote) -> dict[str, str]:
    """``process_batch`` on ``units`` in a fresh ``worker``; each file's status by unit key."""
    token = f"{worker}-{uuid.uuid4().hex}"  # a stopped run's token is refused for good
    options = {"on_error": "continue", "max_depth": None, "policy": "immediate",
               "host_limit": False, "max_concurrent_content": 10, "run_id": run_id}
    blob = dumps([(dc_out(dc), False) for dc in units])
    try:
        _address, answer = process_batch(token, pickle.dumps(remote), store_spec(store),
                                         options, DownloadConfig(), run_id, blob)
    finally:
        shutdown_run(token)
    saved, failed, _events, _failures = loads(answer)
    assert failed == []
    return {units[i].key: records[0][6] for i, _status, records, _children in saved}


async def test_a_retry_or_another_worker_classifies_files_as_one_process(
        tmp_path: Path, backend: Backend, artifacts: Artifacts) -> None:
    repo = Repo({path.lstrip("/"): StaticFile(body) for path, body in FILES.items()})
    store = artifacts.store(tmp_path / "s", catalog=backend.spec)
    create_claims_table(store.catalog)
    async with serve(repo) as server, asyncio.timeout(60):
        remote = FileRemote(server.url_for("/f/PULP_MANIFEST"))
        # An earlier run stored "old".
        before = store.catalog.start_run("earlier")
        assert await asyncio.to_thread(
            _batch, "w0", store, before,
            [_unit(server, "old", declared=False)], remote) == {"file:old": "downloaded"}
        run_id = store.catalog.start_run("this one")
        first = [_unit(server, "a", declared=False), _unit(server, "old", declared=False)]
        assert await asyncio.to_thread(_batch, "w1", store, run_id, first, remote) == {
            "file:a": "downloaded", "file:old": "existing"}
        # The same batch again on another worker (Dask retried it): the file its first
        # attempt stored is still this unit's download, fetched again or found.
        for declared in (False, True):
            again = [_unit(server, "a", declared=declared),
                     _unit(server, "old", declared=declared)]
            assert await asyncio.to_thread(_batch, "w2", store, run_id, again, remote) == {
                "file:a": "downloaded", "file:old": "existing"}
        # Another unit with the same bytes, on a third worker: shared within this run.
        for declared in (False, True):
            other = [_unit(server, "a-again", declared=declared)]
            assert await asyncio.to_thread(_batch, "w3", store, run_id, other, remote) == {
                "file:a-again": "shared"}
    forget_claims(store.catalog, run_id)
    with store.catalog.transaction() as db:
        assert db.execute("SELECT COUNT(*) FROM cluster_claims WHERE run_id = ?",
                          (run_id,)).fetchone()[0] == 0
    store.close()


def test_claims_left_by_runs_that_ended_are_dropped_by_the_next_cluster_run(
        tmp_path: Path, backend: Backend) -> None:
    store = Store(tmp_path / "s", catalog=backend.spec)
    create_claims_table(store.catalog)
    cancelled, running = store.catalog.start_run("cancelled"), store.catalog.start_run("other")
    with store.catalog.transaction() as db:
        db.executemany("INSERT INTO cluster_claims (run_id, sha256, owner) VALUES (?, ?, ?)",
                       [(cancelled, "a" * 64, "file:a\na"), (running, "b" * 64, "file:b\nb")])
    store.catalog.finish_run(cancelled, "cancelled", {})  # a cancel forgets nothing itself
    create_claims_table(store.catalog)  # the next cluster run on this catalog opens
    with store.catalog.transaction() as db:
        left = db.execute("SELECT run_id, sha256 FROM cluster_claims").fetchall()
    assert [tuple(row) for row in left] == [(running, "b" * 64)]
    store.close()
