"""The Maven fixture generator: files per the Maven layout, and `expected` checked end to end
by an explorer built on stagekit's own POM model (parser + resolver + children_of)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import zipfile

import aiohttp
import pytest

from stagekit.remotes.maven.children import Child, children_of
from stagekit.remotes.maven.coords import Coordinates, artifact_path, metadata_path, pom_path
from stagekit.remotes.maven.metadata import parse_metadata
from stagekit.remotes.maven.pom import parse_pom
from stagekit.remotes.maven.resolver import PomResolver
from stagekit.testing import serve
from stagekit.testing.maven import (
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
from stagekit.testing.repo import Expected, ExpectedArtifact, ExpectedUnit

BASE = "http://127.0.0.1/maven/"


async def explore(repo, *, scopes=("compile", "runtime"), include_optional=False):
    """Breadth-first discovery over repo.files with the POM model: (Expected, fetched paths)."""
    fetched: list[str] = []

    async def fetch(c: Coordinates) -> bytes:
        path = repo.prefix + pom_path(c)
        fetched.append(path)
        if path not in repo.files:
            raise FileNotFoundError(path)
        return repo.files[path].body

    async def fetch_meta(group: str, artifact: str) -> bytes:
        return repo.files[repo.prefix + metadata_path(group, artifact)].body

    found = Expected()
    depth: dict[Coordinates, int] = {}
    packaging: dict[Coordinates, str] = {}
    async with PomResolver(fetch, BASE, fetch_metadata=fetch_meta) as resolver:
        layer = [(Coordinates.parse(r), frozenset()) for r in repo.roots]
        for c, _ in layer:
            depth[c] = 0
        d = 0
        while layer:
            effs = await asyncio.gather(*(resolver.effective(c) for c, _ in layer))
            nxt = []
            for (c, excl), eff in zip(layer, effs, strict=True):
                packaging[c] = eff.packaging
                kids = children_of(eff, scopes=scopes, include_optional=include_optional,
                                   exclusions=excl)
                for kid in kids:
                    kid = await resolver.resolve_child(kid)
                    assert isinstance(kid, Child) and not kid.is_range
                    found.edges.add((f"maven.pom:{c}", f"maven.pom:{kid.coords}", kid.relation))
                    if kid.coords not in depth:
                        depth[kid.coords] = d + 1
                        nxt.append((kid.coords, kid.exclusions))
            layer, d = nxt, d + 1
    for c, dep in depth.items():
        arts = []
        for path, deferred in ((pom_path(c), False), (artifact_path(c, packaging[c]), True)):
            if path is not None:
                body = repo.files[repo.prefix + path].body
                arts.append(ExpectedArtifact(path, hashlib.sha256(body).hexdigest(), len(body),
                                             repo.prefix + path, deferred))
        found.add_unit(ExpectedUnit(f"maven.pom:{c}", "maven.pom", dep, arts))
    return found, fetched


def assert_same(found: Expected, expected: Expected) -> None:
    assert sorted(found.units) == sorted(expected.units)
    assert found.depths() == expected.depths()
    assert found.edges == expected.edges
    for key, unit in expected.units.items():
        assert found.units[key].artifacts == unit.artifacts, key


SCENARIOS = {
    "parent_chain_1": lambda: scenario_parent_chain(1),
    "parent_chain_5": lambda: scenario_parent_chain(5),
    "bom": scenario_bom,
    "diamond": scenario_diamond,
    "cycle": scenario_cycle,
    "relocation": scenario_relocation,
    "range": scenario_range,
    "exclusions": scenario_exclusions,
    "deep": lambda: scenario_deep(30),
    "wide": lambda: scenario_wide(600, depth=5, fanout=3, seed=3),
    "everything": lambda: make_maven_repo(
        n_poms=300, parent_chain=3, bom=True, diamond=True, cycle=True, relocation=True,
        version_range=True, exclusions=True, deep=5, seed=7, prefix="maven2"),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_pom_model_rediscovers_the_expected_answer(name):
    repo = SCENARIOS[name]()
    async with asyncio.timeout(30):
        found, fetched = await explore(repo)
    assert_same(found, repo.expected)
    assert len(fetched) == len(set(fetched)), "a POM was fetched twice"


def keys(repo) -> set[str]:
    return {k.removeprefix("maven.pom:") for k in repo.expected.units}


def test_parent_chain_answer_by_hand():
    repo = scenario_parent_chain(3)
    g, libs = "org.stagekit.chain", "org.stagekit.chain.libs"
    assert repo.roots == [f"{g}:leaf:1.0"]
    assert keys(repo) == {
        f"{g}:leaf:1.0", f"{g}:chain-parent-1:5", f"{g}:chain-parent-2:5",
        f"{g}:chain-parent-3:5", f"{libs}:lib-a:2.1", f"{libs}:lib-managed:3.0",
        f"{libs}:lib-b:1.1", f"{libs}:lib-log:1.0", f"{g}:sibling:1.0"}
    assert repo.expected.units[f"maven.pom:{g}:chain-parent-3:5"].depth == 3
    assert (f"maven.pom:{g}:leaf:1.0", f"maven.pom:{libs}:lib-b:1.1",
            "dependency:runtime") in repo.expected.edges


def test_bom_range_relocation_exclusion_answers_by_hand():
    libs = "org.stagekit.bom.libs"
    assert {f"{libs}:lib-x:1.5", f"{libs}:lib-y:2.0", f"{libs}:lib-z:1.2"} <= keys(scenario_bom())
    rng = keys(scenario_range())
    assert {k for k in rng if ":app:" not in k} == {
        "org.stagekit.range:lib:1.10", "org.stagekit.range:other:0.5",
        "org.stagekit.range:pinned:1.2"}
    reloc = scenario_relocation().expected
    assert ("maven.pom:org.stagekit.old:widget:1.0", "maven.pom:org.stagekit.new:widget:1.0",
            "relocation") in reloc.edges
    assert not any("missing" in k for k in reloc.units)
    excl = {k.split(":")[1] for k in keys(scenario_exclusions())}
    assert excl == {"app", "a", "b", "d", "e", "x", "z", "g", "h"}


def test_deep_scenario_reaches_depth_n():
    repo = scenario_deep(30)
    assert max(repo.expected.depths().values()) == 30
    assert len(repo.expected.units) == 31


def test_files_follow_the_layout_with_hex_sidecars_and_content_types():
    repo = scenario_parent_chain(2)
    pom = "org/stagekit/chain/leaf/1.0/leaf-1.0.pom"
    jar = "org/stagekit/chain/leaf/1.0/leaf-1.0.jar"
    assert repo.files[pom].content_type in ("application/xml", "text/xml")
    assert repo.files[jar].content_type == "application/java-archive"
    assert "org/stagekit/chain/chain-parent-1/5/chain-parent-1-5.jar" not in repo.files
    for path in (pom, jar, "org/stagekit/chain/leaf/maven-metadata.xml"):
        body = repo.files[path].body
        assert repo.files[path + ".sha1"].body == hashlib.sha1(body).hexdigest().encode()
        assert repo.files[path + ".md5"].body == hashlib.md5(body).hexdigest().encode()
        assert repo.files[path + ".sha1"].content_type == "text/plain"
    with zipfile.ZipFile(io.BytesIO(repo.files[jar].body)) as z:
        assert "META-INF/MANIFEST.MF" in z.namelist()
    unit = repo.expected.units["maven.pom:org.stagekit.chain:leaf:1.0"]
    assert [(a.relative_path, a.deferred) for a in unit.artifacts] == [(pom, False), (jar, True)]
    bare = scenario_parent_chain(2, with_sidecars=False)
    assert not [p for p in bare.files if re.search(r"\.(sha1|md5)$", p)]
    assert bare.expected.edges == repo.expected.edges


def test_metadata_lists_every_generated_version():
    repo = scenario_range()
    meta = parse_metadata(repo.files["org/stagekit/range/lib/maven-metadata.xml"].body, url="m")
    assert meta.versions == ("0.9", "1.0", "1.5", "1.10", "2.0", "2.1")
    assert (meta.group, meta.artifact, meta.release, meta.latest) == (
        "org.stagekit.range", "lib", "2.1", "2.1")


def test_generation_is_deterministic_per_seed():
    a, b = scenario_wide(300, seed=1), scenario_wide(300, seed=1)
    assert {p: f.body for p, f in a.files.items()} == {p: f.body for p, f in b.files.items()}
    c = scenario_wide(300, seed=2)
    assert a.expected.edges != c.expected.edges


def test_wide_scenario_generates_5000_poms_all_parseable():
    repo = scenario_wide(5000)
    poms = [p for p in repo.files if p.endswith(".pom")]
    assert len(poms) == 5000 == len(repo.expected.units)
    assert all(parse_pom(repo.files[p].body, url=p).artifact for p in poms[::50])
    depths = repo.expected.depths()
    assert max(depths.values()) >= 6 and min(depths.values()) == 0


def test_expected_answer_is_the_union_over_paths():
    b = MavenRepoBuilder()
    g = "org.stagekit.union"
    root, x, y, shared, hidden = (b.add(GenPom(g, n, "1")) for n in ("r", "x", "y", "s", "h"))
    root.edge(x.gav, "dependency:compile", exclusions=((g, "h"),))
    root.edge(y.gav, "dependency:compile")
    x.edge(shared.gav, "dependency:compile")
    y.edge(shared.gav, "dependency:compile")
    shared.edge(hidden.gav, "dependency:compile")
    b.roots.append(root.gav)
    expected = b.build().expected
    assert (f"maven.pom:{shared.gav}", f"maven.pom:{hidden.gav}",
            "dependency:compile") in expected.edges  # y's path does not exclude h
    assert expected.depths()[f"maven.pom:{hidden.gav}"] == 3


def test_per_path_scenario_answer_is_computed_as_the_union():
    expected = scenario_per_path_exclusions().expected
    units = set(expected.depths())
    g = "maven.pom:org.stagekit.paths"
    assert {f"{g}:c1:1.0", f"{g}:d:1.0", f"{g}:e:1.0", f"{g}:e1:1.0",
            f"{g}:tool-dep:1.0"} <= units
    assert f"{g}:never:1.0" not in units  # excluded on every path
    depths = expected.depths()
    assert depths[f"{g}:tool:1.0"] == 1 and depths[f"{g}:tool-dep:1.0"] == 2


async def test_fixture_server_serves_poms_jars_and_sidecars():
    repo = scenario_diamond(prefix="maven2")
    async with asyncio.timeout(20), serve(repo) as server, aiohttp.ClientSession() as s:
        path = "maven2/org/stagekit/diamond/a/1.0/a-1.0.pom"
        async with s.get(server.url_for(path)) as r:
            body = await r.read()
            assert r.status == 200 and "xml" in r.headers["Content-Type"]
        async with s.get(server.url_for(path + ".sha1")) as r:
            assert (await r.read()).decode() == hashlib.sha1(body).hexdigest()
        assert parse_pom(body, url=path).artifact == "a"
    assert repo.entry_path() == "maven2/"
