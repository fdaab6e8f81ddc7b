"""ArtifactSaver: batches committed two at a time, handed on in order, counted if cancelled."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from stagekit.download import DownloadResult
from stagekit.events import ArtifactFinished, EventBus
from stagekit.models import Content, DeclarativeArtifact, DeclarativeContent
from stagekit.pipeline import Stage, create_pipeline
from stagekit.stages import artifacts
from stagekit.stages.artifacts import ArtifactSaver
from stagekit.storage import Store

TIMEOUT = 30


@dataclass(frozen=True)
class Blob(Content):
    kind = "test.blob"
    name: str

    def natural_key(self):
        return (self.name,)


def unit(store: Store, name: str) -> DeclarativeContent:
    """A unit whose one file was downloaded into memory (written by the saver)."""
    body = f"body of {name}".encode() * 10
    sha256 = hashlib.sha256(body).hexdigest()
    da = DeclarativeArtifact(f"http://127.0.0.1/{name}", name, digests={"sha256": sha256})
    da.download = DownloadResult(temp_path=store.tmp_dir / f"{name}.part", size=len(body),
                                 digests={"sha256": sha256}, url=da.url, tries=1, status=200,
                                 headers={}, data=body)
    return DeclarativeContent(Blob(name), [da])


class Commits:
    """What the patched commit saw: batch sizes, "start N"/"end N", and an event per start."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.sizes: list[int] = []
        self.log: list[str] = []
        self.begun = [asyncio.Event() for _ in range(8)]


class Source(Stage):
    """Puts its units in batches of ``size``, each batch once the previous one's commit
    has started (so the batches are the saver's batches)."""

    def __init__(self, units: list[DeclarativeContent], size: int, commits: Commits) -> None:
        self.units, self.size, self.commits = units, size, commits

    async def run(self) -> None:
        for i in range(0, len(self.units), self.size):
            if i:
                await self.commits.begun[i // self.size - 1].wait()
            await self._put_batch(self.units[i:i + self.size])


class Watch(Stage):
    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    async def run(self) -> None:
        async for dc in self.items():
            self.seen.append(dc.key)
            await self.put(dc)


def slow_first_commit(monkeypatch: pytest.MonkeyPatch, wait: float = 10.0) -> Commits:
    """The first batch's commit waits until the second one has started (or ``wait`` s)."""
    commits = Commits(asyncio.get_running_loop())
    second = threading.Event()
    commit = artifacts._commit_new

    def patched(store, downloads):
        commits.sizes.append(len(downloads))
        n = len(commits.sizes)
        commits.log.append(f"start {n}")
        commits.loop.call_soon_threadsafe(commits.begun[n - 1].set)
        if n == 1:
            second.wait(wait)
        else:
            second.set()
        try:
            return commit(store, downloads)
        finally:
            commits.log.append(f"end {n}")

    monkeypatch.setattr(artifacts, "_commit_new", patched)
    return commits


async def test_the_next_batch_is_committed_while_the_first_one_waits(tmp_path, monkeypatch):
    commits = slow_first_commit(monkeypatch)
    seen: list[str] = []
    with Store(tmp_path / "store") as store:
        units = [unit(store, f"b{i}") for i in range(6)]
        async with asyncio.timeout(TIMEOUT):
            await create_pipeline([Source(units, 3, commits), ArtifactSaver(store, minsize=3),
                                   Watch(seen)])
        # The second commit started before the first one ended.
        assert commits.log[:2] == ["start 1", "start 2"]
        assert sorted(commits.log[2:]) == ["end 1", "end 2"]
        assert commits.sizes == [3, 3]
        assert seen == [dc.key for dc in units]  # handed on in the order they came
        for dc in units:
            (da,) = dc.d_artifacts
            assert da.status == "downloaded" and da.download is None
            stored = await asyncio.to_thread(Path(da.artifact.path).read_bytes)
            assert stored == f"body of {dc.content.name}".encode() * 10
        assert await asyncio.to_thread(lambda: list(store.tmp_dir.iterdir())) == []


async def test_depth_one_commits_one_batch_at_a_time(tmp_path, monkeypatch):
    commits = slow_first_commit(monkeypatch, wait=0.3)
    with Store(tmp_path / "store") as store:
        units = [unit(store, f"c{i}") for i in range(4)]
        async with asyncio.timeout(TIMEOUT):
            await create_pipeline([Source(units, 2, commits),
                                   ArtifactSaver(store, minsize=2, depth=1)])
    assert commits.log == ["start 1", "end 1", "start 2", "end 2"]


async def test_a_cancelled_saver_reports_the_files_its_threads_stored(tmp_path, monkeypatch):
    commits = slow_first_commit(monkeypatch)
    events = EventBus()
    stored: list[str] = []
    events.subscribe(lambda e: stored.append(e.relative_path)
                     if isinstance(e, ArtifactFinished) and e.status == "downloaded" else None)
    with Store(tmp_path / "store") as store:
        units = [unit(store, f"d{i}") for i in range(4)]
        task = asyncio.ensure_future(create_pipeline(
            [Source(units, 2, commits), ArtifactSaver(store, minsize=2)], events=events))
        async with asyncio.timeout(TIMEOUT):
            await commits.begun[1].wait()  # both batches are in their threads
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert sorted(stored) == ["d0", "d1", "d2", "d3"]
        assert all(store.has(dc.d_artifacts[0].artifact.sha256) for dc in units)
