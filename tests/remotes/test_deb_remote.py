"""DebRemote end to end against the fixture archive: units, variants, hashes, faults."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

import stagekit
from stagekit.download import DownloadConfig
from stagekit.remotes.deb import DebRemote
from stagekit.remotes.deb_index import parse_release, release_payload
from stagekit.storage import Store
from stagekit.testing import Expected, serve
from stagekit.testing.debian import DebRepo, make_deb_repo

TIMEOUT = 60
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.02, read_timeout=5.0)


async def explore(remote: DebRemote, store: Path | Store, **options: object) -> stagekit.Run:
    async with asyncio.timeout(TIMEOUT):
        return await stagekit.explore(remote, store=store, download_config=FAST, **options)


def without(expected: Expected, keys: set[str]) -> Expected:
    """``expected`` minus the units in ``keys`` and every edge touching them."""
    result = Expected()
    for key, unit in expected.units.items():
        if key not in keys:
            result.add_unit(unit)
    result.edges = {e for e in expected.edges if e[0] not in keys and e[1] not in keys}
    return result


def check_run(run: stagekit.Run, expected: Expected, url: str, policy: str) -> None:
    """Depths, edges, unit rows and artifact rows are exactly what the fixture says."""
    assert run.depths() == expected.depths()
    assert run.records.edge_set() == expected.edges
    units = run.to_dataframe().set_index("key")
    assert dict(units["depth"]) == expected.depths()
    artifacts = run.artifacts_dataframe().set_index(["unit_key", "relative_path"])
    want = {(u.key, a.relative_path): a for u in expected.units.values() for a in u.artifacts}
    assert set(artifacts.index) == set(want)
    for index, artifact in want.items():
        row = artifacts.loc[index]
        assert (row["sha256"], row["size"], row["url"]) == (
            artifact.sha256, artifact.size, url + artifact.url_path), index
        deferred = artifact.deferred and policy == "metadata-only"
        assert row["status"] == ("deferred" if deferred else "downloaded"), index


def stored(store: Store) -> set[str]:
    return {p.name for p in store.artifacts_dir.rglob("*") if p.is_file()}


@pytest.mark.parametrize("policy", ["metadata-only", "immediate"])
async def test_release_indexes_and_packages_are_found_exactly(tmp_path, policy) -> None:
    repo = make_deb_repo(packages=8, expected_release="InRelease", seed=1)
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        run = await explore(DebRemote(server.url, "stable"), store, policy=policy)
        check_run(run, repo.expected, server.url, policy)
        debs = [p for p in server.counters.by_path if p.endswith(".deb")]
        variants = [p for p in server.counters.by_path if "/Packages" in p]
    assert run.errors == []
    assert all(p.endswith(".xz") for p in variants) and len(variants) == 4
    want = {a.sha256 for u in repo.expected.units.values() for a in u.artifacts
            if not (a.deferred and policy == "metadata-only")}
    assert stored(store) == want
    if policy == "metadata-only":
        assert debs == []
    else:
        assert len(debs) == len({p.filename for ps in repo.packages.values() for p in ps})
        for sha256 in want:
            assert hashlib.sha256(store.artifact_path(sha256).read_bytes()).hexdigest() == sha256
    frame = run.to_dataframe().set_index("key")
    arch_all = next(p.key for p in repo.packages[("main", "amd64")] if p.architecture == "all")
    assert frame.loc[arch_all, "parents"] == 2
    epoch = next(p for ps in repo.packages.values() for p in ps if ":" in p.version)
    assert epoch.key in frame.index


async def test_release_is_read_when_inrelease_is_missing(tmp_path) -> None:
    repo = make_deb_repo(packages=3, expected_release="Release", seed=2)
    del repo.files["dists/stable/InRelease"]
    async with serve(repo) as server:
        run = await explore(DebRemote(server.url, "stable"), tmp_path / "s",
                            policy="metadata-only")
        check_run(run, repo.expected, server.url, "metadata-only")


def test_inrelease_payload_is_the_release_text() -> None:
    repo = make_deb_repo(packages=2, seed=3)
    inrelease = repo.files["dists/stable/InRelease"].body.decode()
    assert release_payload(inrelease, "x") == repo.release_text()
    release = parse_release(inrelease.encode(), "x")
    assert release.components == ["main", "contrib"]
    assert release.default_architectures() == ["amd64", "arm64"]
    assert [v[0] for v in release.variants("main", "amd64")] == [
        "main/binary-amd64/Packages.xz", "main/binary-amd64/Packages.gz",
        "main/binary-amd64/Packages"]


async def test_a_corrupt_xz_falls_back_to_gz(tmp_path) -> None:
    repo = make_deb_repo(packages=4, expected_release="InRelease", seed=4)
    repo.corrupt_variant("main", "amd64", "xz")
    async with serve(repo) as server:
        run = await explore(DebRemote(server.url, "stable"), tmp_path / "s",
                            policy="metadata-only")
        expected = repo.expected
        unit = expected.units["deb.packages:main:amd64"]
        gz = repo.index_path("main", "amd64", "gz")
        unit.artifacts = [type(unit.artifacts[0])(
            gz, hashlib.sha256(repo.files[gz].body).hexdigest(), len(repo.files[gz].body), gz)]
        check_run(run, expected, server.url, "metadata-only")
        assert server.counters.count(repo.index_path("main", "amd64", "gz")) == 1
        assert server.counters.count(repo.index_path("main", "amd64")) == 0
    assert run.errors == []


async def test_only_gz_served_while_release_lists_plain_too(tmp_path) -> None:
    repo = make_deb_repo(packages=3, variants=("gz",), expected_release="InRelease", seed=5)
    async with serve(repo) as server:
        run = await explore(DebRemote(server.url, "stable"), tmp_path / "s",
                            policy="metadata-only")
        check_run(run, repo.expected, server.url, "metadata-only")
    assert run.errors == []


async def test_a_release_mismatch_on_every_variant_fails_that_index_only(tmp_path) -> None:
    repo = make_deb_repo(packages=4, expected_release="InRelease", seed=6)
    repo.release_mismatch_all("contrib", "arm64")
    async with serve(repo) as server:
        run = await explore(DebRemote(server.url, "stable"), tmp_path / "s",
                            policy="metadata-only", on_error="continue")
        failed = "deb.packages:contrib:arm64"
        lost = {p.key for p in repo.packages[("contrib", "arm64")]} - {
            p.key for p in repo.packages[("contrib", "amd64")]}
        healthy = without(repo.expected, lost)
        healthy.edges = {e for e in healthy.edges if e[0] != failed}
        assert run.depths() == healthy.depths()
        assert run.records.edge_set() == healthy.edges
    errors = dict(run.errors)
    assert list(errors) == [failed]
    for variant in ("Packages.xz", "Packages.gz", "Packages:"):
        assert f"contrib/binary-arm64/{variant}" in errors[failed]
    assert "matches the Release" in errors[failed] and "sha256 mismatch" in errors[failed]
    row = run.artifacts_dataframe().set_index("unit_key").loc[failed]
    assert (row["status"], row["relative_path"]) == (
        "failed", "dists/stable/contrib/binary-arm64/Packages.xz")


async def test_a_failed_index_stops_an_aborting_run(tmp_path) -> None:
    repo = make_deb_repo(packages=2, seed=7)
    repo.release_mismatch_all("main", "amd64")
    async with serve(repo) as server:
        with pytest.raises(stagekit.errors.UnitFailedError, match=r"deb\.packages:main:amd64"):
            await explore(DebRemote(server.url, "stable"), tmp_path / "s",
                          policy="metadata-only", on_error="abort")


async def test_a_stanza_without_sha256_fails_that_package_only(tmp_path) -> None:
    repo = make_deb_repo(packages=5, expected_release="InRelease", seed=8)
    name = repo.packages[("main", "amd64")][1].name
    assert repo.drop_sha256(name) == 2
    bad = {p.key for ps in repo.packages.values() for p in ps if p.name == name}
    async with serve(repo) as server:
        run = await explore(DebRemote(server.url, "stable"), tmp_path / "s",
                            policy="immediate")
        rest = without(repo.expected, bad)
        frame = run.to_dataframe().set_index("key")
        assert dict(frame.drop(index=list(bad))["depth"]) == rest.depths()
        assert set(frame.drop(index=list(bad))["status"]) == {"downloaded"}
        for edge in repo.expected.edges - rest.edges:
            assert edge in run.records.edge_set()  # the failed package keeps its place in the graph
    errors = dict(run.errors)
    assert set(errors) == bad
    for key, error in errors.items():
        assert "has no SHA256 field" in error and "stanza 2" in error, key
        assert frame.loc[key, "depth"] == 2


@pytest.mark.parametrize("select", [["amber0", "libdelta3-1"],
                                    lambda s: s["Package"] in ("amber0", "libdelta3-1")])
async def test_packages_limits_which_stanzas_become_units(tmp_path, select) -> None:
    repo = make_deb_repo(packages=6, components=["main"], seed=9)
    async with serve(repo) as server:
        run = await explore(DebRemote(server.url, "stable", packages=select),
                            tmp_path / "s", policy="metadata-only")
    kept = {p.key for ps in repo.packages.values() for p in ps
            if p.name in ("amber0", "libdelta3-1")}
    assert kept
    packages = {k for k in run.depths() if k.startswith("deb.package:")}
    assert packages == kept


async def test_components_and_architectures_narrow_the_indexes(tmp_path) -> None:
    repo: DebRepo = make_deb_repo(packages=3, seed=10)
    async with serve(repo) as server:
        remote = DebRemote(server.url, "stable", components=["contrib"],
                           architectures=["arm64"], chunk_size=2)
        run = await explore(remote, tmp_path / "s", policy="metadata-only")
        requested = {p for p in server.counters.by_path if "/Packages" in p}
    assert requested == {repo.index_path("contrib", "arm64", "xz")}
    assert {k for k in run.depths() if k.startswith("deb.package:")} == {
        p.key for p in repo.packages[("contrib", "arm64")]}


async def test_an_archive_without_release_files_fails_the_root_clearly(tmp_path) -> None:
    repo = make_deb_repo(packages=2, seed=11)
    del repo.files["dists/stable/InRelease"]
    del repo.files["dists/stable/Release"]
    async with serve(repo) as server:
        run = await explore(DebRemote(server.url, "stable"), tmp_path / "s",
                            policy="metadata-only")
    assert run.status == "finished"
    (key, error), = run.errors
    assert key == "deb.release:stable"
    assert "no release file" in error and "InRelease" in error and "/Release" in error
