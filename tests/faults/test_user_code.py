"""User code that misbehaves: a plugin's roots()/discover() raising, a user stage raising,
a stage that never resolves a unit. Each gives a clear error and nothing hangs."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

import stagekit
from stagekit.errors import PipelineError, UnitFailedError, UnitNotResolvedError
from stagekit.models import DeclarativeArtifact, DeclarativeContent
from stagekit.pipeline import Stage, create_pipeline
from stagekit.stages import ResolveContentFutures, default_stages
from stagekit.storage import Store
from tests.faults.support import (
    TIMEOUT,
    Item,
    TreeRemote,
    assert_store_sound,
    body_for,
    explore,
    key,
    statuses,
    stored_files,
)

pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.timeout(60)]

GRAPH = {"r": ["a", "b", "c"], "a": ["a1", "a2"], "b": ["b1"], "c": ["c1"], "b1": ["b2"]}
ALL = ["r", "a", "b", "c", "a1", "a2", "b1", "c1", "b2"]


def file_builder(folder: Path):
    """Every unit has one file:// artifact written under ``folder``."""
    folder.mkdir(exist_ok=True)

    def build(name: str) -> list[DeclarativeArtifact]:
        body = body_for(name, 256)
        path = folder / name
        path.write_bytes(body)
        return [DeclarativeArtifact(path.as_uri(), f"{name}.bin",
                                    digests={"sha256": hashlib.sha256(body).hexdigest()})]

    return build


def raise_in(*names: str, error: type[BaseException] = RuntimeError):
    def hook(name: str) -> None:
        if name in names:
            raise error(f"plugin bug while reading {name}")

    return hook


async def test_discover_raising_fails_that_unit_and_the_rest_goes_on(tmp_path):
    store = Store(tmp_path / "store")
    remote = TreeRemote(GRAPH, ["r"], file_builder(tmp_path / "files"), raise_in("b"))
    run = await explore(remote, store)
    found = statuses(run)
    assert set(found) == {key(n) for n in ALL if n not in ("b1", "b2")}
    assert found.pop(key("b")) == "failed"
    assert set(found.values()) == {"downloaded"}
    (unit, error), = run.errors
    assert unit == key("b")
    assert "discover() failed for unit fault.item:b" in error
    assert "plugin bug while reading b" in error
    assert run.status == "finished"
    assert run.graph.nodes[key("b")]["status"] == "failed"
    assert_store_sound(store)
    recorded = {u["key"]: u for u in store.load_run(run.run_id).units}
    assert recorded[key("b")]["status"] == "failed"


async def test_discover_raising_under_abort_stops_the_run_with_the_plugin_error(tmp_path):
    store = Store(tmp_path / "store")
    remote = TreeRemote(GRAPH, ["r"], file_builder(tmp_path / "files"), raise_in("a"))
    run = stagekit.Run(remote, store=store, on_error="abort")
    with pytest.raises(RuntimeError, match="plugin bug while reading a"):
        async with asyncio.timeout(TIMEOUT):
            await run
    assert run.status == "failed"
    assert store.runs()[-1]["status"] == "failed"
    assert_store_sound(store)


async def test_roots_raising_fails_the_run_after_what_was_put(tmp_path):
    class BrokenRoots(TreeRemote):
        async def roots(self, ctx):
            yield DeclarativeContent(Item("r"), self.build("r"))
            raise ValueError("cannot list the roots of this remote")

    store = Store(tmp_path / "store")
    remote = BrokenRoots(GRAPH, ["r"], file_builder(tmp_path / "files"))
    with pytest.raises(ValueError, match="cannot list the roots"):
        await explore(remote, store)
    assert store.runs()[-1]["status"] == "failed"
    assert_store_sound(store)


async def test_discover_yielding_garbage_fails_that_unit_with_a_clear_error(tmp_path):
    class Garbage(TreeRemote):
        async def discover(self, ctx, unit, dc):
            if unit.name == "a":
                yield "not a DeclarativeContent"
                return
            async for child in super().discover(ctx, unit, dc):
                yield child

    store = Store(tmp_path / "store")
    run = await explore(Garbage(GRAPH, ["r"], file_builder(tmp_path / "files")), store)
    (unit, error), = run.errors
    assert unit == key("a") and "discover() failed for unit fault.item:a" in error
    assert statuses(run)[key("b2")] == "downloaded"


async def test_discover_raising_for_many_units_at_once_never_hangs(tmp_path):
    graph = {"r": [f"m{i}" for i in range(200)]}
    graph.update({f"m{i}": [f"leaf{i}"] for i in range(200)})
    store = Store(tmp_path / "store")
    remote = TreeRemote(graph, ["r"], lambda name: [],
                        raise_in(*(f"m{i}" for i in range(0, 200, 2))))
    run = await explore(remote, store)
    assert run.stats["statuses"] == {"failed": 100, "downloaded": 201}


class Boom(Stage):
    """A user stage that raises on the ``nth`` unit it sees."""

    def __init__(self, nth: int) -> None:
        self.nth = nth

    async def run(self) -> None:
        seen = 0
        async for dc in self.items():
            seen += 1
            if seen == self.nth:
                raise KeyError(f"user stage cannot handle {dc.key}")
            await self.put(dc)


class Drop(Stage):
    """A user stage that keeps some units and never passes them on."""

    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.kept: list[DeclarativeContent] = []

    async def run(self) -> None:
        async for dc in self.items():
            if dc.content.name in self.names:
                self.kept.append(dc)
                continue
            await self.put(dc)


class Recorder(TreeRemote):
    """Keeps every DeclarativeContent it made, to inspect their futures afterwards."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.made: list[DeclarativeContent] = []

    async def roots(self, ctx):
        async for dc in super().roots(ctx):
            self.made.append(dc)
            yield dc

    async def discover(self, ctx, unit, dc):
        async for child in super().discover(ctx, unit, dc):
            self.made.append(child)
            yield child


async def test_user_stage_raising_stops_the_pipeline_and_fails_pending_futures(
    tmp_path, no_leftover_tasks
):
    store = Store(tmp_path / "store")
    remote = Recorder(GRAPH, ["r"], file_builder(tmp_path / "files"))
    stages = default_stages(remote, store)
    stages.insert(-2, Boom(3))  # before ResolveContentFutures
    with pytest.raises(KeyError, match="user stage cannot handle"):
        async with asyncio.timeout(TIMEOUT):
            await create_pipeline(stages)
    no_leftover_tasks()
    assert remote.made, "the remote put nothing"
    for dc in remote.made:
        assert dc.future is not None and dc.future.done(), dc
        if dc.future.exception() is not None:
            assert isinstance(dc.future.exception(), PipelineError)
            assert dc.key in str(dc.future.exception())
    assert any(dc.future.exception() is not None for dc in remote.made)
    assert list(store.tmp_dir.iterdir()) == []
    assert_store_sound(store)


async def test_stage_that_drops_units_fails_their_futures_instead_of_hanging(tmp_path):
    store = Store(tmp_path / "store")
    remote = Recorder(GRAPH, ["r"], file_builder(tmp_path / "files"))
    drop = Drop({"a", "b1"})
    stages = default_stages(remote, store)
    stages.insert(-2, drop)
    async with asyncio.timeout(TIMEOUT):
        await create_pipeline(stages)
    by_name = {dc.content.name: dc for dc in remote.made}
    assert set(by_name) == set(ALL) - {"a1", "a2", "b2"}  # children of dropped units unseen
    for name in ("a", "b1"):
        error = by_name[name].future.exception()
        assert isinstance(error, UnitNotResolvedError)
        assert key(name) in str(error) and "Drop" in str(error)
    for name in set(by_name) - {"a", "b1"}:
        assert by_name[name].future.result() == Item(name)


async def test_stage_list_without_a_resolver_fails_every_future_at_the_end(tmp_path):
    store = Store(tmp_path / "store")
    remote = Recorder(GRAPH, ["r"], file_builder(tmp_path / "files"))
    stages = [s for s in default_stages(remote, store) if not isinstance(s, ResolveContentFutures)]
    async with asyncio.timeout(TIMEOUT):
        await create_pipeline(stages)
    (root,) = remote.made
    error = root.future.exception()
    assert isinstance(error, UnitNotResolvedError) and key("r") in str(error)
    assert "end of the pipeline" in str(error)
    assert set(stored_files(store)) == {hashlib.sha256(body_for("r", 256)).hexdigest()}


async def test_resolution_awaited_by_a_user_stage_on_a_failed_unit_raises(tmp_path):
    """A stage awaiting the future of a unit that fails gets the unit's error, not a hang."""
    store = Store(tmp_path / "store")
    missing = tmp_path / "gone"

    class Waiter(TreeRemote):
        async def discover(self, ctx, unit, dc):
            child = DeclarativeContent(
                Item("missing"),
                [DeclarativeArtifact(missing.as_uri(), "gone", digests={"sha256": "0" * 64})],
            )
            yield child
            with pytest.raises(UnitFailedError, match="missing"):
                await child.resolution()
            self.checked = True

    remote = Waiter({}, ["r"], lambda name: [])
    remote.checked = False
    run = await explore(remote, store)
    assert remote.checked
    assert statuses(run) == {key("r"): "downloaded", key("missing"): "failed"}
