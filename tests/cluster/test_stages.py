"""A cluster run's stages are built and checked as one process's are."""

from __future__ import annotations

from pathlib import Path

import pytest

from stagekit.cluster._stage import ClusterStage
from stagekit.cluster._stages import cluster_stages
from stagekit.engine import DiscoveryEngine
from stagekit.errors import ConfigurationError
from stagekit.remotes.file import FileRemote
from stagekit.storage import Store


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_a_bad_max_concurrent_content_is_refused_by_name(tmp_path: Path, bad: object) -> None:
    with Store(tmp_path / "s") as store, pytest.raises(
            ConfigurationError, match=r"max_concurrent_content must be an int >= 1"):
        cluster_stages(FileRemote("http://127.0.0.1:1/PULP_MANIFEST"), None, store,
                       max_concurrent_content=bad)  # type: ignore[arg-type]


def test_the_engine_knows_the_run_and_the_stage_its_limit(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        engine, stage = cluster_stages(FileRemote("http://127.0.0.1:1/PULP_MANIFEST"), None,
                                       store, run_id=7, max_concurrent_content=3)
    assert isinstance(engine, DiscoveryEngine) and isinstance(stage, ClusterStage)
    assert engine.run_id == 7 and stage.run_id == 7
    assert stage.remote.max_concurrent_content == 3
