"""PyPIRemote against pip: the releases it chooses are those pip resolves on the same index."""

from __future__ import annotations

import asyncio
import json
import os
import sys

from packaging.utils import canonicalize_name

import stagekit
from stagekit.remotes.pypi import PyPIRemote
from stagekit.storage import Store
from stagekit.testing import serve
from stagekit.testing.pypi import make_pypi_repo

TIMEOUT = 120


async def pip_resolves(index_url: str, roots: list[str], tmp_path) -> set[tuple[str, str]]:
    """(project, version) that ``pip install --dry-run --report`` picks, isolated from config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_NO_INPUT="1")
    report = tmp_path / "report.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--quiet",
        "--report", str(report), "--ignore-installed", "--no-cache-dir", "--only-binary=:all:",
        "--index-url", index_url, *roots,
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, (out + err).decode(errors="replace")
    data = json.loads(report.read_text())
    return {(canonicalize_name(item["metadata"]["name"]), item["metadata"]["version"])
            for item in data["install"]}


async def test_chosen_releases_equal_what_pip_resolves(tmp_path):
    # No conflict (pip fails on it) and no sdist-only release (pip would build it).
    repo = make_pypi_repo(n_releases=40, depth=3, fanout=3, markers=True, extras=True,
                          cycle=True, yanked=True, prereleases=True, requires_python=True,
                          supersede=True, seed=5)
    async with serve(repo) as server:
        index = server.url_for("simple/")
        async with asyncio.timeout(TIMEOUT):
            run = await stagekit.explore(PyPIRemote(index, repo.roots),
                                         store=Store(tmp_path / "store"),
                                         policy="metadata-only")
            pip = await pip_resolves(index, repo.roots, tmp_path)
    assert run.errors == []
    frame = run.to_dataframe()
    chosen = frame[frame["chosen"]]
    ours = set(zip(chosen["name"], chosen["version"], strict=True))
    assert len(ours) > 50
    assert ours == pip
    assert ("sup-c", "1.0") in pip and ("yk-pin", "3.0") in pip and ("pre-only", "1.0a1") in pip
