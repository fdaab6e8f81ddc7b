"""``stagekit explore pypi`` and ``stagekit demo --kind pypi``."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from stagekit.cli import main
from stagekit.cli.demo import _served
from stagekit.testing.pypi import make_pypi_repo

pytestmark = pytest.mark.timeout(120)


def test_explore_pypi_writes_table_with_versions(tmp_path, capsys):
    repo = make_pypi_repo(extras=True, yanked=True)
    with _served(repo) as url:
        code = main(["explore", "pypi", url + "simple/", "ex-root", "yk-root",
                     "--metadata-only", "--store", str(tmp_path / "store"), "--json",
                     "--out", str(tmp_path / "units.csv")])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["units"] == len(repo.expected.units) and summary["failures"] == []
    frame = pd.read_csv(tmp_path / "units.csv")
    assert set(frame["key"]) == set(repo.expected.units)


def test_explore_pypi_without_requirement_is_a_usage_error(tmp_path, capsys):
    code = main(["explore", "pypi", "http://127.0.0.1:9/simple/", "--store", str(tmp_path)])
    assert code == 2
    assert "pypi needs at least one ROOT" in capsys.readouterr().err


def test_demo_pypi_explores_a_generated_index(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--kind", "pypi", "--metadata-only", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "serving a generated pypi remote" in printed
    frame = pd.read_csv(out / "results.csv")
    assert len(frame) > 300 and frame["key"].str.startswith("pypi.release:").all()
