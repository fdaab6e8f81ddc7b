"""Artifacts in an object store: verified before upload, found by key, read back anywhere."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

import stagekit
from stagekit.download import DownloadConfig
from stagekit.errors import ConfigurationError
from stagekit.remotes.maven import MavenRemote
from stagekit.storage import Store
from stagekit.testing import serve
from stagekit.testing.checks import assert_run_matches
from stagekit.testing.maven import make_maven_repo
from tests.backends import Artifacts, Backend

TIMEOUT = 90
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.05, read_timeout=5.0)


@pytest.fixture
def bucket(s3_endpoint) -> Artifacts:
    return Artifacts("s3", f"s3://{s3_endpoint.create_bucket()}/pre", s3_endpoint.options)


def test_a_committed_file_is_one_object_under_its_digest_and_nothing_else(
    bucket: Artifacts, s3_endpoint, tmp_path: Path
) -> None:
    name = bucket.url.split("/")[2]
    with bucket.store(tmp_path / "a") as store:
        with store.new_temp_file() as tmp:
            tmp.write(b"half")
            assert s3_endpoint.keys(name) == []  # nothing uploads before the commit
            tmp.write(b" and the rest")
            artifact = tmp.commit(hashlib.sha256(b"half and the rest").hexdigest(), 17)
        assert s3_endpoint.keys(name) == [f"pre/{artifact.sha256[:2]}/{artifact.sha256}"]
        assert artifact.read_bytes() == b"half and the rest"
        with store.new_temp_file() as bad, pytest.raises(stagekit.errors.StoreError):
            bad.write(b"short")
            bad.commit("e" * 64, 99)
        assert len(s3_endpoint.keys(name)) == 1


def test_another_machine_finds_the_artifact_by_key_and_reads_it_back(
    bucket: Artifacts, tmp_path: Path
) -> None:
    with bucket.store(tmp_path / "one") as one:
        stored = one.add_bytes(b"<project/>")
    with bucket.store(tmp_path / "two") as two:
        assert not two._cache_path(stored.sha256).exists()
        assert two.missing([stored.sha256, "c" * 64]) == {"c" * 64}
        assert two._cache_path(stored.sha256).read_bytes() == b"<project/>"
        assert two.verify(stored.sha256)
        assert two.get_artifact("d" * 64) is None


def test_a_damaged_object_is_not_accepted_as_the_artifact(
    bucket: Artifacts, tmp_path: Path
) -> None:
    with bucket.store(tmp_path / "one") as one:
        stored = one.add_bytes(b"the real bytes")
        # Someone overwrites the object with other bytes of the same size.
        with one.new_temp_file() as tmp:
            tmp.write(b"the fake bytes")
            tmp.close()
            one.objects.put_file(stored.sha256, tmp.path)
    with bucket.store(tmp_path / "two") as two:
        assert two.missing([stored.sha256]) == {stored.sha256}
        assert not two.artifact_path(stored.sha256).exists()
        assert not two.verify(stored.sha256)


def test_artifacts_must_be_an_object_store_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="expected s3://bucket/prefix"):
        Store(tmp_path / "s", artifacts="/somewhere/else")


async def test_maven_run_finds_the_same_on_every_backend(
    backend: Backend, artifacts: Artifacts, tmp_path: Path
) -> None:
    repo = make_maven_repo(n_poms=60, depth=4, seed=3)
    async with serve(repo) as server:
        remote = MavenRemote(server.url_for(repo.entry_path()), repo.roots)
        with artifacts.store(tmp_path / "first", catalog=backend.spec) as store:
            async with asyncio.timeout(TIMEOUT):
                run = await stagekit.explore(remote, store=store, download_config=FAST)
            assert_run_matches(run, repo.expected)
            first = {(r.unit_key, r.relative_path, r.sha256) for r in
                     run.artifacts_dataframe().itertuples(index=False)}
        # Another machine with the same object store: every file is found there.
        with artifacts.store(tmp_path / "second", catalog=backend.spec) as other:
            async with asyncio.timeout(TIMEOUT):
                again = await stagekit.explore(remote, store=other, download_config=FAST)
            assert_run_matches(again, repo.expected)
            frame = again.artifacts_dataframe()
            assert {(r.unit_key, r.relative_path, r.sha256)
                    for r in frame.itertuples(index=False)} == first
            if artifacts.url is not None and backend.name == "postgresql":
                # Shared catalog and object store: nothing is fetched from the remote.
                assert set(frame["status"]) == {"existing"}
            for _key, _path, sha256 in first:
                assert other.verify(sha256)
