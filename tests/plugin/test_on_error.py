"""``on_error`` means the same for every bundled remote and a plugin, wherever it is given.

Under ``"abort"`` the first failure is raised and the run is recorded as failed; under
``"continue"`` the failure is reported (in ``run.errors`` and the table) and the rest of
the remote is explored. A remote's own setting holds unless ``explore`` overrides it.
"""

from __future__ import annotations

import asyncio

import pytest

import stagekit
from stagekit import StagekitError, Store
from stagekit.download import DownloadConfig
from stagekit.testing import serve
from tests.plugin.remotes import cases
from tests.plugin.test_names import GRAPH, PlainCrawler

TIMEOUT = 30
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.02, read_timeout=5.0, tries=1)
KINDS = sorted(cases())


async def explore(remote, store, **options) -> stagekit.Run:
    async with asyncio.timeout(TIMEOUT):
        return await stagekit.explore(remote, store=store, download_config=FAST, **options)


@pytest.mark.parametrize("where", ["remote", "explore"])
@pytest.mark.parametrize("kind", KINDS)
async def test_abort_raises_the_first_failure(tmp_path, kind, where) -> None:
    case = cases()[kind]()
    store = Store(tmp_path / "store")
    async with serve(case.repo) as server:
        if where == "remote":
            remote, options = case.broken(server.url, on_error="abort"), {}
        else:
            remote, options = case.broken(server.url), {"on_error": "abort"}
        with pytest.raises(StagekitError) as raised:
            await explore(remote, store, **options)
    assert case.broken_key.split(":", 1)[1] in str(raised.value) or kind == "file"
    assert store.runs()[-1]["status"] == "failed"
    assert remote.on_error == ("abort" if where == "remote" else None)


@pytest.mark.parametrize("kind", KINDS)
async def test_continue_reports_the_failure_and_goes_on(tmp_path, kind) -> None:
    case = cases()[kind]()
    async with serve(case.repo) as server:
        broken = await explore(case.broken(server.url), tmp_path / "broken")
        healthy = await explore(case.healthy(server.url), tmp_path / "healthy")
    assert broken.status == "finished"
    failed = [key for key, _ in broken.errors]
    assert len(failed) == 1 and failed[0].startswith(case.broken_key), broken.errors
    frame = broken.to_dataframe().set_index("key")
    assert frame.loc[failed[0], "status"] == "failed"
    # Everything else a healthy remote finds is found.
    assert healthy.errors == []
    if kind == "deb":
        return  # its only root is the one that fails
    assert set(healthy.depths()) <= set(broken.depths())


async def test_explore_overrides_the_remote_and_never_changes_it(tmp_path) -> None:
    remote = PlainCrawler(GRAPH, "t", on_error="abort", max_depth=1)
    run = await explore(remote, tmp_path / "s", on_error="continue", max_depth=2)
    assert (run.on_error, run.max_depth) == ("continue", 2)
    assert max(run.depths().values()) == 2
    assert (remote.on_error, remote.max_depth) == ("abort", 1)
    again = await explore(remote, tmp_path / "s")
    assert (again.on_error, again.max_depth) == ("abort", 1)
    assert max(again.depths().values()) == 1


async def test_a_plugin_failure_follows_on_error(tmp_path) -> None:
    class Failing(PlainCrawler):
        async def discover(self, ctx, unit, dc):
            if unit.name == "t.1":
                raise ValueError("t.1 cannot be read")
            async for child in super().discover(ctx, unit, dc):
                yield child

    with pytest.raises(ValueError, match=r"t\.1 cannot be read"):
        await explore(Failing(GRAPH, "t", on_error="abort"), tmp_path / "a")
    run = await explore(Failing(GRAPH, "t"), tmp_path / "c")
    assert [key for key, _ in run.errors] == ["test.node:t.1"]
    assert "test.node:t.1.0" not in run.depths()  # only reachable through t.1... and t.0.0
    assert "test.node:t.2.0" in run.depths()


@pytest.mark.parametrize("option, value", [
    ("policy", "metadata_only"), ("on_error", "ignore"), ("max_depth", -1),
    ("concurrency", 0), ("max_concurrent_content", 0),
])
def test_a_bad_option_is_refused_before_anything_is_recorded(tmp_path, option, value) -> None:
    store = Store(tmp_path / "store")
    with pytest.raises(stagekit.ConfigurationError, match=option):
        stagekit.Run(PlainCrawler(GRAPH, "t"), store=store, **{option: value})
    assert store.runs() == []


def test_a_remote_with_a_bad_url_is_refused_when_made() -> None:
    from stagekit.remotes import MavenRemote

    for url in ("127.0.0.1:8080", "ftp://example.invalid/repo", ""):
        with pytest.raises(stagekit.ConfigurationError, match="url"):
            MavenRemote(url, ["g:a:1"])
