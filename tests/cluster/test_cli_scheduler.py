"""``--scheduler ADDRESS``: the CLI's runs on a Dask cluster."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from stagekit.cli import main

try:
    import distributed
except ImportError:  # pragma: no cover - the conftest skips these tests then
    distributed = None  # type: ignore[assignment]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(60)
def test_an_unreachable_scheduler_is_one_error_line_naming_it(tmp_path: Path, capsys) -> None:
    address = f"tcp://127.0.0.1:{_closed_port()}"
    store = tmp_path / "store"
    code = main(["explore", "maven", "http://127.0.0.1:1/", "g:a:1", "--store", str(store),
                 "--scheduler", address])
    err = capsys.readouterr().err
    assert code == 2
    assert f"--scheduler {address}: no Dask scheduler answered" in err
    assert not store.exists()  # nothing left behind for a run that never started


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_demo_on_a_cluster_finds_what_it_finds_alone(tmp_path: Path, capsys) -> None:
    assert main(["demo", "--kind", "file", "--out", str(tmp_path / "alone")]) == 0
    alone = capsys.readouterr().out
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        code = main(["demo", "--kind", "file", "--out", str(tmp_path / "spread"),
                     "--scheduler", cluster.scheduler_address])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"Dask cluster at {cluster.scheduler_address}: 2 workers" in captured.err
    import pandas as pd

    def table(name: str) -> pd.DataFrame:
        frame = pd.read_csv(tmp_path / name / "results.csv")
        return frame[["key", "depth", "status"]].sort_values("key").reset_index(drop=True)

    pd.testing.assert_frame_equal(table("spread"), table("alone"))
    assert alone.count("\n") > 3
