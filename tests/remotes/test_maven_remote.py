"""MavenRemote end to end: generated repositories with a known answer, through the pipeline."""

from __future__ import annotations

import asyncio
import hashlib
import re

import pytest

import stagekit
from stagekit.download import DownloadConfig
from stagekit.remotes.maven import MavenPom, MavenRemote
from stagekit.storage import Store
from stagekit.testing import latency, serve
from stagekit.testing.maven import (
    GenDep,
    GenPom,
    MavenRepoBuilder,
    make_maven_repo,
    scenario_bom,
    scenario_cycle,
    scenario_deep,
    scenario_diamond,
    scenario_exclusions,
    scenario_parent_chain,
    scenario_per_path_exclusions,
    scenario_range,
    scenario_relocation,
    scenario_wide,
)
from stagekit.testing.repo import StaticFile

TIMEOUT = 60
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.05, read_timeout=5.0)

SCENARIOS = {
    "parent_chain_5": lambda: scenario_parent_chain(5),
    "bom": scenario_bom,
    "diamond": scenario_diamond,
    "cycle": scenario_cycle,
    "relocation": scenario_relocation,
    "range": scenario_range,
    "exclusions": scenario_exclusions,
    "per_path_exclusions": scenario_per_path_exclusions,
    "deep_30": lambda: scenario_deep(30),
    "wide": lambda: scenario_wide(120, depth=4, fanout=3, seed=3),
    "everything": lambda: make_maven_repo(
        n_poms=80, parent_chain=3, bom=True, diamond=True, cycle=True, relocation=True,
        version_range=True, exclusions=True, per_path_exclusions=True, deep=5, seed=7,
        prefix="maven2"),
}


async def explore(server, repo, store, roots=None, **options):
    remote = MavenRemote(server.url_for(repo.entry_path()), repo.roots if roots is None else roots,
                         **options.pop("remote", {}))
    async with asyncio.timeout(TIMEOUT):
        return await stagekit.explore(remote, store=store, download_config=FAST, **options)


def artifact_rows(run):
    frame = run.artifacts_dataframe()
    return {(r.unit_key, r.relative_path): r for r in frame.itertuples(index=False)}


def assert_found_as_expected(run, repo, policy):
    assert run.errors == []
    assert run.depths() == repo.expected.depths()
    assert run.records.edge_set() == repo.expected.edges
    rows = artifact_rows(run)
    wanted = {(k, a.relative_path): a for k, u in repo.expected.units.items() for a in u.artifacts}
    assert set(rows) == set(wanted)
    for key, art in wanted.items():
        row = rows[key]
        assert row.url.endswith("/" + art.url_path), key
        if art.deferred and policy == "metadata-only":
            # Not fetched, so its sidecar is not asked for either: recorded unverified.
            assert row.status == "deferred", key
            assert not bool(row.verified), key
        else:
            assert bool(row.verified), key
            assert (row.status, row.sha256, row.size) == ("downloaded", art.sha256, art.size), key


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_scenario_is_discovered_exactly_metadata_only(name, tmp_path):
    repo = SCENARIOS[name]()
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only")
        requested = dict(server.counters.by_path)
    assert_found_as_expected(run, repo, "metadata-only")
    poms = [p for p in requested if p.endswith(".pom")]
    assert poms and all(requested[p] == 1 for p in poms), "a POM was fetched twice"
    assert not [p for p in requested if p.endswith((".jar", ".war"))]
    assert not [p for p in requested if ".jar." in p or ".war." in p], "a jar sidecar was asked"
    others = [p for p in requested if not p.endswith((".pom", ".pom.sha1"))]
    assert all("maven-metadata" in p for p in others), others  # a POM, its .sha1, versions
    frame = run.to_dataframe().set_index("key")
    assert set(frame.index) == set(repo.expected.units)
    assert not frame["conflict"].any()


async def test_immediate_policy_stores_every_pom_and_jar(tmp_path):
    repo = SCENARIOS["everything"]()
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        run = await explore(server, repo, store, policy="immediate")
    assert_found_as_expected(run, repo, "immediate")
    for unit in repo.expected.units.values():
        for art in unit.artifacts:
            body = store.artifact_path(art.sha256).read_bytes()
            assert hashlib.sha256(body).hexdigest() == art.sha256
    assert set(run.to_dataframe()["status"]) == {"downloaded"}
    assert [p for p in store.tmp_dir.iterdir()] == []


async def test_graph_and_table_show_relations_and_coordinates(tmp_path):
    repo = scenario_parent_chain(3)
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only")
    graph = run.graph
    leaf = "maven.pom:org.stagekit.chain:leaf:1.0"
    parent = "maven.pom:org.stagekit.chain:chain-parent-1:5"
    assert graph.edges[leaf, parent]["relation"] == "parent"
    assert graph.edges[leaf, "maven.pom:org.stagekit.chain.libs:lib-b:1.1"]["relation"] == (
        "dependency:runtime")
    row = run.to_dataframe().set_index("key").loc[parent]
    assert (row["group"], row["artifact"], row["version"], row["relation"]) == (
        "org.stagekit.chain", "chain-parent-1", "5", "parent")


def conflict_repo():
    """app -> lib:1.0 and app -> mid -> lib:2.0: one g:a at two versions."""
    b = MavenRepoBuilder(seed=1)
    g = "org.stagekit.conflict"
    app, mid = b.add(GenPom(g, "app", "1.0")), b.add(GenPom(g, "mid", "1.0"))
    b.add(GenPom(g, "lib", "1.0"))
    b.add(GenPom(g, "lib", "2.0"))
    app.deps += [GenDep(g, "lib", "1.0"), GenDep(g, "mid", "1.0")]
    mid.deps.append(GenDep(g, "lib", "2.0"))
    for pom, target in ((app, "lib:1.0"), (app, "mid:1.0"), (mid, "lib:2.0")):
        pom.edge(f"{g}:{target}", "dependency:compile")
    b.roots.append(app.gav)
    return b.build()


async def test_conflict_column_marks_a_group_artifact_at_several_versions(tmp_path):
    repo = conflict_repo()
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only")
    assert run.records.edge_set() == repo.expected.edges
    conflict = run.to_dataframe().set_index("key")["conflict"]
    assert conflict.to_dict() == {
        "maven.pom:org.stagekit.conflict:app:1.0": False,
        "maven.pom:org.stagekit.conflict:mid:1.0": False,
        "maven.pom:org.stagekit.conflict:lib:1.0": True,
        "maven.pom:org.stagekit.conflict:lib:2.0": True,
    }


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<project><modelVersion>4.0.0</modelVersion><groupId>&lol3;</groupId>
<artifactId>bomb</artifactId><version>1.0</version></project>
"""


def bad_repo():
    """app -> good -> leaf, and app -> five broken POMs (see the test)."""
    b = MavenRepoBuilder(seed=2)
    g = "org.stagekit.bad"
    app = b.add(GenPom(g, "app", "1.0"))
    good = b.add(GenPom(g, "good", "1.0"))
    b.add(GenPom(g, "leaf", "1.0"))
    good.deps.append(GenDep(g, "leaf", "1.0"))
    good.edge(f"{g}:leaf:1.0", "dependency:compile")
    orphan_parent = b.add(GenPom(g, "gone-parent", "1.0", packaging="pom"))
    names = ("malformed", "bomb", "badprop", "orphan", "gone")
    for name in names:
        pom = b.add(GenPom(g, name, "1.0"))
        if name == "orphan":
            pom.parent = orphan_parent.gav
            pom.edge(orphan_parent.gav, "parent")
    for name in ("good", *names):
        app.deps.append(GenDep(g, name, "1.0"))
        app.edge(f"{g}:{name}:1.0", "dependency:compile")
    b.roots.append(app.gav)
    repo = b.build()

    def replace(name, body):
        path = f"org/stagekit/bad/{name}/1.0/{name}-1.0.pom"
        repo.files[path] = StaticFile(body, "application/xml")
        repo.files[path + ".sha1"] = StaticFile(hashlib.sha1(body).hexdigest().encode())

    replace("malformed", b"<project><artifactId>malformed</artifactId><version>1.0</project>")
    replace("bomb", BOMB)
    replace("badprop", b"<project><groupId>org.stagekit.bad</groupId><artifactId>badprop"
                       b"</artifactId><version>1.0</version><dependencies><dependency><groupId>"
                       b"org.stagekit.bad</groupId><artifactId>leaf</artifactId>"
                       b"<version>${nope.version}</version></dependency></dependencies></project>")
    for gone in ("gone/1.0/gone-1.0.pom", "gone-parent/1.0/gone-parent-1.0.pom"):
        for suffix in ("", ".sha1", ".md5"):
            del repo.files[f"org/stagekit/bad/{gone}{suffix}"]
    return repo


async def test_bad_poms_fail_only_their_unit_naming_url_and_element(tmp_path):
    repo = bad_repo()
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only")
        base = server.url_for("org/stagekit/bad")
    errors = {key.split(":")[2]: text for key, text in run.errors}
    assert set(errors) == {"malformed", "bomb", "badprop", "orphan", "gone", "gone-parent"}
    url = f"{base}/{{0}}/1.0/{{0}}-1.0.pom".format
    assert url("malformed") in errors["malformed"] and "not well-formed" in errors["malformed"]
    assert url("bomb") in errors["bomb"] and "forbidden" in errors["bomb"]
    assert url("badprop") in errors["badprop"]
    assert "dependencies/dependency[1]/version" in errors["badprop"]
    assert "${nope.version} is not defined" in errors["badprop"]
    assert url("orphan") in errors["orphan"] and "parent" in errors["orphan"]
    assert url("gone-parent") in errors["orphan"] and "404" in errors["orphan"]
    assert url("gone") in errors["gone"] and "404" in errors["gone"]
    # the rest of the discovery went on, with every unit at its depth
    assert run.depths() == repo.expected.depths()
    assert run.records.edge_set() == repo.expected.edges
    status = run.to_dataframe().set_index("key")["status"]
    assert status["maven.pom:org.stagekit.bad:leaf:1.0"] == "downloaded"  # its jar waits
    assert status["maven.pom:org.stagekit.bad:good:1.0"] == "downloaded"


async def test_abort_stops_at_the_first_bad_pom(tmp_path):
    repo = bad_repo()
    async with serve(repo) as server:
        with pytest.raises(stagekit.errors.StagekitError):
            await explore(server, repo, tmp_path / "store", policy="metadata-only",
                          on_error="abort")


async def test_pom_not_matching_its_sidecar_fails_its_unit(tmp_path):
    repo = scenario_diamond()
    path = "org/stagekit/diamond/c/1.0/c-1.0.pom"
    repo.files[path + ".sha1"] = StaticFile(b"0" * 40)
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only")
    (key, error), = run.errors
    assert key == "maven.pom:org.stagekit.diamond:c:1.0"
    assert "sha1 mismatch" in error and path in error
    assert "maven.pom:org.stagekit.diamond:e:1.0" in run.depths()  # via b -> d -> e


async def test_group_artifact_roots_use_release_from_metadata(tmp_path):
    repo = scenario_range()
    roots = ["org.stagekit.range:app", "org.stagekit.range:lib"]
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", roots=roots,
                            policy="metadata-only")
    expected = repo.expected.depths()
    expected["maven.pom:org.stagekit.range:lib:2.1"] = 0  # <release> of lib
    assert run.depths() == expected


async def test_repository_without_sidecars_stores_files_unverified(tmp_path):
    repo = scenario_diamond(with_sidecars=False)
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="immediate")
    assert run.errors == []
    assert run.records.edge_set() == repo.expected.edges
    frame = run.artifacts_dataframe()
    assert len(frame) == 10
    assert set(frame["status"]) == {"downloaded"}
    assert not frame["verified"].any()


async def test_max_depth_stops_exploring_below_it(tmp_path):
    repo = scenario_deep(30)
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only",
                            max_depth=5)
    assert run.depths() == {f"maven.pom:org.stagekit.deep:node-{i}:1.0": i
                                   for i in range(6)}


async def test_discovery_keeps_every_connection_busy(tmp_path):
    repo = scenario_wide(150, depth=3, fanout=4, seed=5)
    async with serve(repo) as server:
        server.faults.add(latency(0.02))
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only")
        busiest = server.counters.max_in_flight
    assert run.depths() == repo.expected.depths()
    assert busiest == FAST.per_host  # many POMs in flight at once, not one level at a time


async def test_optional_and_test_scopes_are_followed_when_asked(tmp_path):
    repo = scenario_diamond()
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only",
                            remote={"include_optional": True})
    assert ("maven.pom:org.stagekit.diamond:a:1.0", "maven.pom:org.stagekit.missing:opt-a:1.0",
            "dependency:compile") in run.records.edge_set()
    (key, error), = run.errors  # the optional POM is not in the repository
    assert key == "maven.pom:org.stagekit.missing:opt-a:1.0" and "404" in error


def test_unit_key_and_bad_arguments():
    assert MavenPom("g", "a", "1").key == "maven.pom:g:a:1"
    with pytest.raises(ValueError, match="sidecar"):
        MavenRemote("http://127.0.0.1/", ["g:a:1"], algorithms=("crc32",))


@pytest.mark.parametrize("policy", ["metadata-only", "immediate"])
async def test_second_run_reads_stored_poms_and_requests_nothing(tmp_path, policy):
    repo = SCENARIOS["everything"]()
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        first = await explore(server, repo, store, policy=policy)
        server.counters.reset()
        second = await explore(server, repo, store, policy=policy)
        assert [p for p in server.counters.by_path if p.endswith((".pom", ".sha1", ".jar"))] == []
    assert second.depths() == first.depths() == repo.expected.depths()
    assert second.records.edge_set() == repo.expected.edges
    # pom-packaging units have no main artifact: nothing deferred, all existing
    was = first.to_dataframe().set_index("key")["status"].astype(str)
    now = second.to_dataframe().set_index("key")["status"].astype(str)
    assert now.sort_index().equals(was.replace("downloaded", "existing").sort_index())
    assert "downloaded" in set(was) and "downloaded" not in set(now)
    assert second.errors == []


async def test_immediate_run_after_metadata_only_verifies_the_jars(tmp_path):
    repo = SCENARIOS["everything"]()
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        await explore(server, repo, store, policy="metadata-only")
        server.counters.reset()
        run = await explore(server, repo, store, policy="immediate")
        requested = dict(server.counters.by_path)
    assert run.errors == []
    rows = artifact_rows(run)
    jars = {k: a for k, u in repo.expected.units.items() for a in u.artifacts
            if a.relative_path.endswith(".jar")}
    assert jars
    for key, art in jars.items():
        row = rows[(key, art.relative_path)]
        assert (row.status, row.sha256, bool(row.verified)) == ("downloaded", art.sha256, True)
        assert any(p.endswith(art.url_path + ".sha1") for p in requested), key


class RecordingMaven(MavenRemote):
    """A MavenRemote noting, per POM, whether a second path widened its children."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.revisits: list[tuple[str, bool]] = []

    def revisit(self, known, found):
        extra = super().revisit(known, found)
        self.revisits.append((known.content.artifact, extra is not None))
        return extra


# Slowing one root's subtree makes the other root's paths arrive first.
SLOW_APP_2 = re.compile(r"org/stagekit/paths/(app-2|shim|link|hop|hop2|hop3)/")
SLOW_APP_1 = re.compile(r"org/stagekit/paths/app-1/")


async def _explore_in_order(tmp_path, slow) -> tuple[RecordingMaven, stagekit.Run]:
    repo = scenario_per_path_exclusions()
    async with serve(repo) as server:
        server.faults.add(latency(1.0, path=slow))
        remote = RecordingMaven(server.url_for(repo.entry_path()), repo.roots)
        async with asyncio.timeout(TIMEOUT):
            run = await stagekit.explore(remote, store=tmp_path / slow.pattern[-8:-1],
                                         policy="metadata-only", download_config=FAST)
    assert_found_as_expected(run, repo, "metadata-only")
    return remote, run


async def test_several_roots_give_the_union_whatever_the_order_of_arrival(tmp_path):
    first, run_a = await _explore_in_order(tmp_path, SLOW_APP_2)
    second, run_b = await _explore_in_order(tmp_path, SLOW_APP_1)
    assert run_a.records.edge_set() == run_b.records.edge_set()
    assert run_a.depths() == run_b.depths()
    assert sorted(run_a.to_dataframe()["key"]) == sorted(run_b.to_dataframe()["key"])
    # The order really was reversed: app-1's path (which excludes most) came first in A,
    # so later paths widened core and tool; in B it came last and widened nothing.
    assert ("core", True) in first.revisits and ("tool", True) in first.revisits
    assert ("core", False) in second.revisits and ("tool", False) in second.revisits
    assert ("tool", True) not in second.revisits
