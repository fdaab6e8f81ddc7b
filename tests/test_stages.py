"""The sync stages against the fixture server: limits, faults, resume, metadata-only."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

import pytest

import stagekit
from stagekit import Remote
from stagekit.download import DownloadConfig
from stagekit.models import Content, DeclarativeArtifact, DeclarativeContent
from stagekit.pipeline import Stage, create_pipeline
from stagekit.remotes.file import FileRemote
from stagekit.stages import default_stages
from stagekit.storage import Store
from stagekit.testing import Faults, latency, make_file_repo, reset, serve, status
from stagekit.testing.repo import Repo, StaticFile

TIMEOUT = 60
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.05, read_timeout=2.0)


@dataclass(frozen=True)
class Item(Content):
    kind = "test.item"
    name: str

    def natural_key(self):
        return (self.name,)


class ListRemote(Remote):
    """Flat units built by ``build(name) -> list[DeclarativeArtifact]``."""

    def __init__(self, names, build, **kwargs):
        super().__init__(**kwargs)
        self.names, self.build = names, build

    async def roots(self, ctx):
        for name in self.names:
            yield DeclarativeContent(Item(name), self.build(name))

    def has_children(self, dc):
        return False


def blob_repo(names, size=2048):
    files, digests = {}, {}
    for i, name in enumerate(names):
        body = hashlib.sha256(f"{name}-{i}".encode()).digest() * (size // 32)
        files[f"blobs/{name}"] = StaticFile(body)
        digests[name] = hashlib.sha256(body).hexdigest()
    return Repo(files), digests


async def explore(remote, store, **options):
    async with asyncio.timeout(TIMEOUT):
        return await stagekit.explore(remote, store=store, download_config=FAST, **options)


def stored_files(store: Store) -> set[str]:
    return {p.name for p in store.artifacts_dir.rglob("*") if p.is_file()}


async def test_file_remote_sync_stores_every_file_and_records_it(tmp_path):
    repo = make_file_repo(30, size=(100, 5000), seed=3)
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        run = await explore(FileRemote(server.url_for(repo.entry_path())), store)
    expected = {u.artifacts[0].sha256 for u in repo.expected.units.values()}
    assert stored_files(store) == expected
    for sha256 in expected:
        assert hashlib.sha256(store.artifact_path(sha256).read_bytes()).hexdigest() == sha256
    frame = run.to_dataframe()
    assert len(frame) == 30
    assert set(frame["status"]) == {"downloaded"}
    assert set(frame["key"]) == set(repo.expected.units)
    assert run.stats["bytes"] == sum(u.artifacts[0].size for u in repo.expected.units.values())
    assert list(store.tmp_dir.iterdir()) == []


async def test_second_run_fetches_nothing_and_a_deleted_file_is_fetched_again(tmp_path):
    repo = make_file_repo(12, seed=5)
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        manifest = server.url_for(repo.entry_path())
        await explore(FileRemote(manifest), store)
        server.counters.reset()
        second = await explore(FileRemote(manifest), store)
        assert server.counters.total == 1  # the manifest only
        assert set(second.to_dataframe()["status"]) == {"existing"}

        victim = next(iter(repo.expected.units.values())).artifacts[0]
        store.artifact_path(victim.sha256).unlink()
        server.counters.reset()
        third = await explore(FileRemote(manifest), store)
        file_requests = {p for p in server.counters.by_path if p != repo.entry_path()}
        assert file_requests == {victim.url_path}
        assert third.to_dataframe().set_index("key")["status"].value_counts()["downloaded"] == 1
    assert store.artifact_path(victim.sha256).exists()


async def test_download_limit_and_units_without_downloads_overtake(tmp_path):
    names = [f"u{i:02d}" for i in range(1, 29)]
    slow = [n for i, n in enumerate(names, start=1) if i % 3 == 0]
    repo, digests = blob_repo(slow)

    order: list[str] = []

    class Watch(Stage):
        async def run(self):
            async for dc in self.items():
                order.append(dc.content.name)
                await self.put(dc)

    store = Store(tmp_path / "store")
    async with serve(repo, faults=Faults()) as server:
        server.faults.add(latency(0.3, path="blobs/*"))

        def build(name):
            if name not in slow:
                return []
            url = server.url_for(f"blobs/{name}")
            return [DeclarativeArtifact(url, name, digests={"sha256": digests[name]})]

        stages = default_stages(ListRemote(names, build), store, max_concurrent_content=3)
        stages.insert(-1, Watch())
        async with asyncio.timeout(TIMEOUT):
            await create_pipeline(stages)
        assert server.counters.max_in_flight <= 3
        assert server.counters.max_in_flight == 3
    assert sorted(order) == names
    fast_before_first_block = [n for n in names[:11] if n not in slow]
    first_slow = min(order.index(n) for n in slow)
    assert set(order[:first_slow]) >= set(fast_before_first_block)


async def test_per_host_limit_is_never_exceeded(tmp_path):
    names = [f"b{i}" for i in range(24)]
    repo, digests = blob_repo(names)
    store = Store(tmp_path / "store")
    async with serve(repo, faults=Faults()) as server:
        server.faults.add(latency(0.05, path="blobs/*"))

        def build(name):
            url = server.url_for(f"blobs/{name}")
            return [DeclarativeArtifact(url, name, digests={"sha256": digests[name]})]

        config = DownloadConfig(per_host=4, total=100)
        async with asyncio.timeout(TIMEOUT):
            run = await stagekit.explore(
                ListRemote(names, build), store=store, download_config=config
            )
        assert max(server.counters.max_in_flight_by_host.values()) == 4
    assert set(run.to_dataframe()["status"]) == {"downloaded"}


async def test_unit_with_one_failing_artifact_fails_and_keeps_the_others(tmp_path):
    repo, digests = blob_repo(["a", "b", "c"])
    del repo.files["blobs/b"]
    store = Store(tmp_path / "store")
    async with serve(repo) as server:

        def build(name):
            return [
                DeclarativeArtifact(server.url_for(f"blobs/{part}"), part,
                                    digests={"sha256": digests[part]})
                for part in ("a", "b", "c")
            ]

        run = await explore(ListRemote(["triple"], build), store)
    (key, error), = run.errors
    assert key == "test.item:triple"
    assert "1 of 3 artifacts failed (b)" in error and "404" in error
    assert "triple" not in error and error.count("http://") == 1  # said once
    assert stored_files(store) == {digests["a"], digests["c"]}
    arts = run.artifacts_dataframe().set_index("relative_path")
    assert arts.loc["b", "status"] == "failed"
    assert arts.loc["a", "status"] == "downloaded"
    assert list(store.tmp_dir.iterdir()) == []


async def test_abort_stops_at_the_first_failed_unit(tmp_path):
    repo, _ = blob_repo(["a"])
    store = Store(tmp_path / "store")
    async with serve(repo) as server:

        def build(name):
            return [DeclarativeArtifact(server.url_for(f"blobs/{name}"), name,
                                        digests={"sha256": "0" * 64})]

        with pytest.raises(stagekit.UnitFailedError, match="sha256"):
            await explore(ListRemote(["a"], build), store, on_error="abort")
    assert stored_files(store) == set()


@pytest.mark.parametrize(
    ("fault", "final", "min_requests"),
    [
        (lambda: status(503, path="blobs/x", times=2), "downloaded", 3),
        (lambda: reset(path="blobs/x", times=1), "downloaded", 2),
        (lambda: status(503, path="blobs/x"), "failed", 4),
        (lambda: status(404, path="blobs/x"), "failed", 1),
    ],
)
async def test_faults_end_in_the_right_status_with_the_right_tries(
    tmp_path, fault, final, min_requests
):
    repo, digests = blob_repo(["x"], size=64 * 1024)
    store = Store(tmp_path / "store")
    async with serve(repo, faults=Faults()) as server:
        server.faults.add(fault())

        def build(name):
            return [DeclarativeArtifact(server.url_for(f"blobs/{name}"), name,
                                        digests={"sha256": digests[name]})]

        run = await explore(ListRemote(["x"], build), store)
        assert server.counters.count("blobs/x") == min_requests
    assert run.to_dataframe()["status"].tolist() == [final]
    assert run.artifacts_dataframe()["tries"].tolist() == [min_requests]
    assert (digests["x"] in stored_files(store)) == (final == "downloaded")
    assert list(store.tmp_dir.iterdir()) == []


async def test_metadata_only_records_deferred_artifacts_without_fetching(tmp_path):
    repo, digests = blob_repo(["meta", "big"])
    store = Store(tmp_path / "store")
    async with serve(repo) as server:

        def build(name):
            return [
                DeclarativeArtifact(server.url_for("blobs/meta"), "meta",
                                    digests={"sha256": digests["meta"]}),
                DeclarativeArtifact(server.url_for("blobs/big"), "big", size=2048,
                                    digests={"sha256": digests["big"]}, deferred=True),
            ]

        run = await explore(ListRemote(["u"], build), store, policy="metadata-only")
        assert server.counters.count("blobs/big") == 0
        assert server.counters.count("blobs/meta") == 1
    arts = run.artifacts_dataframe().set_index("relative_path")
    assert arts.loc["big", "status"] == "deferred"
    assert arts.loc["big", "sha256"] == digests["big"]
    assert arts.loc["big", "size"] == 2048
    assert arts.loc["big", "url"].endswith("blobs/big")
    # The unit's metadata was fetched: it is downloaded, with one deferred artifact.
    frame = run.to_dataframe()
    assert frame["status"].tolist() == ["downloaded"]
    assert frame["deferred"].tolist() == [1]
    assert stored_files(store) == {digests["meta"]}


async def test_a_body_held_in_memory_is_written_and_stored_by_the_saver(tmp_path):
    # A remote that read a small file keeps it in memory: no file exists until the
    # store's worker writes it under its temporary name and moves it into the store.
    from stagekit.download import DownloadResult
    from stagekit.remotes.base import prefetched

    store = Store(tmp_path / "store")
    bodies = {name: f"<project>{name}</project>".encode() * 40 for name in ("a", "b", "c")}
    results = {}

    def build(name):
        body = bodies[name]
        result = DownloadResult(
            temp_path=store.tmp_dir / f"mem-{name}.part", size=len(body),
            digests={"sha256": hashlib.sha256(body).hexdigest()}, url=f"http://x/{name}",
            tries=1, status=200, headers={}, data=body)
        results[name] = result
        return [prefetched(f"http://127.0.0.1:9/{name}", name, result)]

    run = await explore(ListRemote(sorted(bodies), build), store)
    assert run.errors == []
    arts = run.artifacts_dataframe().set_index("relative_path")
    for name, body in bodies.items():
        digest = hashlib.sha256(body).hexdigest()
        assert arts.loc[name, "status"] == "downloaded"
        assert arts.loc[name, "sha256"] == digest
        assert store.artifact_path(digest).read_bytes() == body
        assert results[name].data is None  # written once, then dropped from memory
    assert list(store.tmp_dir.iterdir()) == []


def test_a_body_in_memory_is_never_written_over_an_existing_file(tmp_path):
    from stagekit.download import DownloadResult

    planted = tmp_path / "taken.part"
    planted.write_bytes(b"someone else's")
    result = DownloadResult(temp_path=planted, size=3, digests={"sha256": "0" * 64},
                            url="http://x/", tries=1, status=200, headers={}, data=b"new")
    with pytest.raises(FileExistsError):
        result.ensure_file()
    assert planted.read_bytes() == b"someone else's"
    assert result.data == b"new"
    fresh = DownloadResult(temp_path=tmp_path / "fresh.part", size=3, digests={},
                           url="http://x/", tries=1, status=200, headers={}, data=b"new")
    assert fresh.ensure_file().read_bytes() == b"new"
    assert fresh.ensure_file() == tmp_path / "fresh.part"  # once: later calls just name it
