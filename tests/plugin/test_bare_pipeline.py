"""Every bundled remote runs the same through a bare pipeline as through `explore()`."""

from __future__ import annotations

import asyncio

import pytest

import stagekit
from stagekit import Store
from stagekit.events import EventBus
from stagekit.records import RunRecorder
from stagekit.testing import serve
from tests.plugin.remotes import cases

TIMEOUT = 30


def stored(store: Store) -> set[str]:
    return {p.name for p in store.artifacts_dir.rglob("*") if p.is_file()}


@pytest.mark.parametrize("policy", ["immediate", "metadata-only"])
@pytest.mark.parametrize("kind", sorted(cases()))
async def test_bare_pipeline_and_explore_find_the_same(tmp_path, kind, policy) -> None:
    case = cases()[kind]()
    bare_store, run_store = Store(tmp_path / "bare"), Store(tmp_path / "run")
    records = RunRecorder()
    events = EventBus()
    events.subscribe(records)
    async with serve(case.repo) as server:
        async with asyncio.timeout(TIMEOUT):
            stages = stagekit.default_stages(case.healthy(server.url), bare_store, policy)
            await stagekit.create_pipeline(stages, events=events)
            run = await stagekit.explore(case.healthy(server.url), store=run_store,
                                         policy=policy)
    assert records.depths() == run.depths()
    assert records.edge_set() == run.records.edge_set()
    statuses = {key: record.status for key, record in records.units.items()}
    assert statuses == {key: record.status for key, record in run.records.units.items()}
    assert "failed" not in statuses.values()
    assert stored(bare_store) == stored(run_store) != set()
    assert list(bare_store.tmp_dir.iterdir()) == []  # nothing left behind
    stagekit.testing.assert_run_matches(run, case.repo.expected)
