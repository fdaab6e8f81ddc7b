"""Re-syncing a Debian archive: unchanged indexes are neither fetched nor parsed again."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

import stagekit
import stagekit.remotes.deb
from stagekit.download import DownloadConfig
from stagekit.remotes.deb import DebRemote
from stagekit.storage import Store
from stagekit.testing import serve
from stagekit.testing.debian import make_deb_repo

TIMEOUT = 60
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.02, read_timeout=5.0)


async def explore(remote: DebRemote, store: Store, **options: object) -> stagekit.Run:
    async with asyncio.timeout(TIMEOUT):
        return await stagekit.explore(remote, store=store, download_config=FAST,
                                      policy="metadata-only", **options)


@pytest.fixture
def parsed(monkeypatch) -> list[str]:
    """The indexes DebRemote parses (by stored path), in order."""
    opened: list[str] = []
    real = stagekit.remotes.deb.PackagesReader

    def counting(path, *args, **kwargs):
        opened.append(args[0])
        return real(path, *args, **kwargs)

    monkeypatch.setattr(stagekit.remotes.deb, "PackagesReader", counting)
    return opened


def index_requests(server) -> dict[str, int]:
    return {p: n for p, n in server.counters.by_path.items()
            if "/Packages" in p or "/by-hash/" in p}


def same_answer(run: stagekit.Run, repo) -> None:
    assert run.errors == []
    assert run.depths() == repo.expected.depths()
    assert run.records.edge_set() == repo.expected.edges


async def test_resync_of_an_unchanged_archive_fetches_and_parses_no_index(
        tmp_path: Path, parsed: list[str]) -> None:
    repo = make_deb_repo(packages=8, expected_release="InRelease", seed=21)
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        first = await explore(DebRemote(server.url, "stable"), store)
        assert len(parsed) == 4 and len(index_requests(server)) == 4
        server.counters.reset()
        parsed.clear()
        second = await explore(DebRemote(server.url, "stable"), store)
        assert index_requests(server) == {}
        assert set(server.counters.by_path) == {"dists/stable/InRelease"}
    assert parsed == []
    same_answer(first, repo)
    same_answer(second, repo)
    statuses = second.to_dataframe().set_index("key")["status"].astype(str)
    assert statuses[statuses.index.str.startswith("deb.packages:")].eq("existing").all()
    assert set(second.to_dataframe()["key"]) == set(first.to_dataframe()["key"])


async def test_resync_after_one_index_changed_fetches_and_parses_only_that_one(
        tmp_path: Path, parsed: list[str]) -> None:
    repo = make_deb_repo(packages=8, expected_release="InRelease", seed=22)
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        await explore(DebRemote(server.url, "stable"), store)
        name = next(p.name for p in repo.packages[("contrib", "arm64")]
                    if p.architecture == "arm64")
        new = repo.upgrade("contrib", "arm64", name, "99.0")
        server.counters.reset()
        parsed.clear()
        second = await explore(DebRemote(server.url, "stable"), store)
        assert index_requests(server) == {repo.index_path("contrib", "arm64", "xz"): 1}
    assert parsed == ["dists/stable/contrib/binary-arm64/Packages.xz"]
    same_answer(second, repo)
    assert new.key in second.depths()


async def test_a_filtered_run_is_never_taken_for_the_whole_index(
        tmp_path: Path, parsed: list[str]) -> None:
    repo = make_deb_repo(packages=6, components=["main"], architectures=["amd64"], seed=23)
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        await explore(DebRemote(server.url, "stable", packages=["amber0"]), store)
        parsed.clear()
        whole = await explore(DebRemote(server.url, "stable"), store)
    assert parsed == ["dists/stable/main/binary-amd64/Packages.xz"]  # stored, parsed again
    same_answer(whole, repo)


async def test_a_by_hash_404_then_the_plain_path_logs_no_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    repo = make_deb_repo(packages=4, components=["main"], architectures=["amd64"],
                         expected_release="InRelease", seed=24)
    repo.announce_by_hash()
    caplog.set_level(logging.INFO, logger="stagekit")
    async with serve(repo) as server:
        run = await explore(DebRemote(server.url, "stable"), Store(tmp_path / "store"))
        requested = index_requests(server)
    same_answer(run, repo)
    assert [p for p in requested if "/by-hash/SHA256/" in p]  # tried first, 404
    assert requested[repo.index_path("main", "amd64", "xz")] == 1
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
              and r.name != "stagekit.remotes.deb_signature"]  # that one: no keyring given
    assert warned == []
