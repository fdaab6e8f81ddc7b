"""OCIRemote end to end against the fixture registry: units, edges, depths, auth, faults."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pandas as pd
import pytest

import stagekit
from stagekit.download import DownloadConfig
from stagekit.remotes.oci import OCIRemote
from stagekit.storage import Store
from stagekit.testing import Expected, serve
from stagekit.testing.oci import make_oci_repo

TIMEOUT = 60
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.02, read_timeout=5.0)
REPOSITORY = "library/app"


async def explore(remote: OCIRemote, store: Path, **options: object) -> stagekit.Run:
    async with asyncio.timeout(TIMEOUT):
        return await stagekit.explore(remote, store=store, download_config=FAST, **options)


def check_run(run: stagekit.Run, expected: Expected, server_url: str, policy: str) -> None:
    """Units, depths, edges and every artifact row are exactly what the fixture says."""
    assert run.depths() == expected.depths()
    assert run.records.edge_set() == expected.edges
    units = run.to_dataframe().set_index("key")
    assert set(units.index) == set(expected.units)
    assert dict(units["depth"]) == expected.depths()
    assert run.errors == []
    artifacts = run.artifacts_dataframe().set_index(["unit_key", "relative_path"])
    want = {(u.key, a.relative_path): a for u in expected.units.values() for a in u.artifacts}
    assert set(artifacts.index) == set(want)
    for index, artifact in want.items():
        row = artifacts.loc[index]
        assert (row["sha256"], row["size"]) == (artifact.sha256, artifact.size), index
        assert row["url"] == server_url + artifact.url_path, index
        deferred = artifact.deferred and policy == "metadata-only"
        assert (row["status"] == "deferred") == deferred, index
    for key, unit in expected.units.items():
        if policy == "metadata-only" and unit.artifacts and all(a.deferred
                                                                for a in unit.artifacts):
            assert units.loc[key, "status"] == "deferred", key
        else:
            assert units.loc[key, "status"] in ("downloaded", "shared", "existing"), key


def stored(store: Store) -> set[str]:
    return {p.name for p in store.artifacts_dir.rglob("*") if p.is_file()}


@pytest.mark.parametrize("policy", ["metadata-only", "immediate"])
async def test_every_tag_index_manifest_and_blob_is_found_exactly(tmp_path, policy) -> None:
    repo = make_oci_repo(tags=6, latest=True, seed=1)
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        run = await explore(OCIRemote(server.url, REPOSITORY), store, policy=policy)
        check_run(run, repo.expected, server.url, policy)
        layers = {a.sha256 for u in repo.expected.units.values() for a in u.artifacts
                  if a.deferred}
        blob_requests = {p.rsplit(":", 1)[1] for p in server.counters.by_path if "/blobs/" in p}
        # one request per artifact at most: a shared layer or manifest is fetched once
        assert max(n for p, n in server.counters.by_path.items() if "/blobs/" in p) == 1
        if policy == "metadata-only":
            assert blob_requests.isdisjoint(layers)
        else:
            assert layers <= blob_requests
    want = {a.sha256 for u in repo.expected.units.values() for a in u.artifacts
            if not (a.deferred and policy == "metadata-only")}
    assert stored(store) == want
    for sha256 in want:
        assert hashlib.sha256(store.artifact_path(sha256).read_bytes()).hexdigest() == sha256


async def test_shared_layers_are_one_unit_with_several_parents(tmp_path) -> None:
    repo = make_oci_repo(tags=4, platforms=("linux/amd64",), seed=4)
    async with serve(repo) as server:
        run = await explore(OCIRemote(server.url, REPOSITORY), tmp_path / "s",
                            policy="immediate")
        base_layer_requests = [n for p, n in server.counters.by_path.items() if "/blobs/" in p]
    frame = run.to_dataframe().set_index("key")
    parents = frame.loc[frame["kind"] == "oci.blob", "parents"]
    assert parents.max() == 4  # the base layer of every image
    assert max(base_layer_requests) == 1
    assert run.graph.in_degree(parents.idxmax()) == 4


async def test_docker_and_oci_types_are_both_requested_and_read(tmp_path) -> None:
    repo = make_oci_repo(tags=3, docker_every=1, seed=5)  # every tag uses Docker types
    async with serve(repo) as server:
        run = await explore(OCIRemote(server.url, REPOSITORY), tmp_path / "s",
                            policy="metadata-only")
        check_run(run, repo.expected, server.url, "metadata-only")
        assert server.counters.statuses[404] == 0


async def test_platforms_keep_only_matching_index_children(tmp_path) -> None:
    repo = make_oci_repo(tags=4, platforms=("linux/amd64", "linux/arm64", "linux/arm/v7"))
    async with serve(repo) as server:
        remote = OCIRemote(server.url, REPOSITORY, platforms=["linux/arm64"])
        run = await explore(remote, tmp_path / "s", policy="metadata-only")
        check_run(run, repo.expected_for(["linux/arm64"]), server.url, "metadata-only")
    assert len(repo.expected_for(["linux/arm64"]).units) < len(repo.expected.units)


async def test_tags_list_pagination_is_followed(tmp_path) -> None:
    repo = make_oci_repo(tags=5, max_page=2, seed=6)
    async with serve(repo) as server:
        remote = OCIRemote(server.url, REPOSITORY)
        run = await explore(remote, tmp_path / "s", policy="metadata-only")
        assert server.counters.count("v2/library/app/tags/list") == 3
        check_run(run, repo.expected, server.url, "metadata-only")


async def test_anonymous_token_is_fetched_once_reused_and_never_recorded(tmp_path) -> None:
    repo = make_oci_repo(tags=4, auth=True, seed=7)
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        run = await explore(OCIRemote(server.url, REPOSITORY), store, policy="immediate")
        check_run(run, repo.expected, server.url, "immediate")
        assert repo.tokens_issued == 1
        assert server.counters.statuses[401] == 1
        api = [r for r in server.counters.log if r.path.startswith("v2/") and r.status == 200]
        assert api and all(r.auth_scheme == "Bearer" for r in api)
    tokens = set(repo.token_auth._tokens)
    assert len(tokens) == 1
    texts = [run.to_dataframe().to_csv(), run.artifacts_dataframe().to_csv(),
             str(run.stats), repr(run.remote.auth)]
    catalog = b"".join(p.read_bytes() for p in (tmp_path / "store").rglob("*.sqlite3*"))
    for token in tokens:
        assert all(token not in text for text in texts)
        assert token.encode() not in catalog


async def test_a_token_expiring_during_the_run_is_refreshed(tmp_path) -> None:
    repo = make_oci_repo(tags=2, auth=True, seed=8)
    async with serve(repo) as server:
        first = await explore(OCIRemote(server.url, REPOSITORY, tags=["1.0"]), tmp_path / "s")
        remote = OCIRemote(server.url, REPOSITORY)
        # the second run starts with the first run's (now invalid) token
        remote.auth = first.remote.auth
        repo.expire_tokens()
        run = await explore(remote, tmp_path / "s", policy="immediate")
        assert repo.tokens_issued == 2
        check_run(run, repo.expected, server.url, "immediate")


async def test_a_tag_whose_bytes_miss_the_announced_digest_fails_alone(tmp_path) -> None:
    repo = make_oci_repo(tags=4, seed=9)
    digest = repo.corrupt_manifest("1.1")
    async with serve(repo) as server:
        run = await explore(OCIRemote(server.url, REPOSITORY), tmp_path / "s",
                            policy="metadata-only")
    errors = dict(run.errors)
    assert list(errors) == ["oci.tag:library/app:1.1"]
    assert "announced" in errors["oci.tag:library/app:1.1"]
    assert digest in errors["oci.tag:library/app:1.1"]
    frame = run.to_dataframe().set_index("key")
    assert f"oci.manifest:{digest}" not in frame.index
    healthy = {k for k in repo.expected.units if k.startswith("oci.tag") and k.endswith(
        ("1.0", "1.2", "1.3"))}
    assert healthy <= set(frame.index)
    assert set(frame.loc[list(healthy), "status"]) == {"downloaded"}


async def test_a_corrupt_child_manifest_fails_that_unit_and_the_rest_goes_on(tmp_path) -> None:
    repo = make_oci_repo(tags=2, seed=10)
    bad = repo.corrupt_manifest("1.0", platform="linux/arm64")
    async with serve(repo) as server:
        run = await explore(OCIRemote(server.url, REPOSITORY), tmp_path / "s",
                            policy="metadata-only")
    errors = dict(run.errors)
    assert list(errors) == [f"oci.manifest:{bad}"]
    assert "size mismatch" in errors[f"oci.manifest:{bad}"]  # one byte appended
    good = repo.expected_for(["linux/amd64"])
    assert set(good.units) <= set(run.to_dataframe()["key"])


async def test_a_self_referencing_index_ends(tmp_path) -> None:
    repo = make_oci_repo(tags=2, seed=11)
    repo.self_referencing_index("1.0")
    async with serve(repo) as server:
        run = await explore(OCIRemote(server.url, REPOSITORY), tmp_path / "s",
                            policy="metadata-only")
    assert [k for k, _ in run.errors] == ["oci.tag:library/app:1.0"]
    assert run.status == "finished"


async def test_unknown_tags_fail_and_known_ones_are_explored(tmp_path) -> None:
    repo = make_oci_repo(tags=2, seed=12)
    async with serve(repo) as server:
        remote = OCIRemote(server.url + "v2/", REPOSITORY, tags=["1.1", "nope"])
        run = await explore(remote, tmp_path / "s", policy="metadata-only")
        assert server.counters.count("v2/library/app/tags/list") == 0
    errors = dict(run.errors)
    assert list(errors) == ["oci.tag:library/app:nope"]
    assert "404" in errors["oci.tag:library/app:nope"]
    frame = run.to_dataframe()
    assert isinstance(frame, pd.DataFrame)
    assert "oci.tag:library/app:1.1" in set(frame["key"])


async def test_a_corrupt_layer_fails_its_unit_under_immediate_only(tmp_path) -> None:
    repo = make_oci_repo(tags=2, seed=13)
    layer = next(a for u in repo.expected.units.values() for a in u.artifacts if a.deferred)
    repo.corrupt_blob("sha256:" + layer.sha256)
    async with serve(repo) as server:
        lazy = await explore(OCIRemote(server.url, REPOSITORY), tmp_path / "a",
                             policy="metadata-only")
        eager = await explore(OCIRemote(server.url, REPOSITORY), tmp_path / "b",
                              policy="immediate")
    assert lazy.errors == []
    assert [k for k, _ in eager.errors] == [f"oci.blob:sha256:{layer.sha256}"]
    assert len(eager.to_dataframe()) == len(repo.expected.units)


async def test_first_run_reports_shared_blobs_apart_from_existing_ones(tmp_path) -> None:
    repo = make_oci_repo(tags=6, latest=True, seed=1)
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        first = await explore(OCIRemote(server.url, REPOSITORY), store, policy="immediate")
        again = await explore(OCIRemote(server.url, REPOSITORY), store, policy="immediate")
    artifacts = first.artifacts_dataframe()
    counts = artifacts.groupby("sha256")["unit_key"].nunique()
    assert (counts > 1).any(), "the fixture shares no blob: the test would prove nothing"
    statuses = first.artifacts_dataframe()["status"].astype(str)
    assert "existing" not in set(statuses)  # nothing was in the empty store before
    assert "shared" in set(statuses)
    # Each digest is downloaded once; every other use of it in the run is "shared".
    downloaded = artifacts[artifacts["status"] == "downloaded"]
    assert downloaded["sha256"].is_unique
    assert first.stats["bytes"] == sum(p.stat().st_size for p in
                                       store.artifacts_dir.rglob("*") if p.is_file())
    assert "existing" not in set(first.to_dataframe()["status"].astype(str))
    # Tags are fetched again (they may move), but their bytes were stored by the first run.
    assert set(again.to_dataframe()["status"].astype(str)) == {"existing"}
    assert again.stats["bytes"] == 0
