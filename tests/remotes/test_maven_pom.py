"""The POM model: layout paths, parsing, effective model, children_of and PomResolver,
on hand-written POMs with hand-computed answers."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from stagekit.errors import MetadataError
from stagekit.remotes.maven.children import Child, children_of
from stagekit.remotes.maven.coords import (
    Coordinates,
    artifact_path,
    metadata_path,
    pom_path,
    sidecar_path,
)
from stagekit.remotes.maven.effective import (
    build_effective,
    finish_effective,
    prepare_effective,
)
from stagekit.remotes.maven.pom import parse_pom
from stagekit.remotes.maven.resolver import PomResolver

NS = 'xmlns="http://maven.apache.org/POM/4.0.0"'
C = Coordinates


def pom(body: str, ns: bool = True) -> bytes:
    return f'<?xml version="1.0"?>\n<project {NS if ns else ""}>{body}</project>'.encode()


def dep(g, a, v=None, *, scope=None, optional=False, type=None, classifier=None, excl=()):
    parts = [f"<groupId>{g}</groupId><artifactId>{a}</artifactId>"]
    for tag, value in (("version", v), ("type", type), ("classifier", classifier),
                       ("scope", scope)):
        if value is not None:
            parts.append(f"<{tag}>{value}</{tag}>")
    if optional:
        parts.append("<optional>true</optional>")
    if excl:
        parts.append("<exclusions>" + "".join(
            f"<exclusion><groupId>{eg}</groupId><artifactId>{ea}</artifactId></exclusion>"
            for eg, ea in excl) + "</exclusions>")
    return "<dependency>" + "".join(parts) + "</dependency>"


def deps(*items: str, managed: bool = False) -> str:
    inner = "<dependencies>" + "".join(items) + "</dependencies>"
    return f"<dependencyManagement>{inner}</dependencyManagement>" if managed else inner


def coords_xml(g, a, v, extra="") -> str:
    return f"<groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version>{extra}"


def parent_xml(g, a, v) -> str:
    return f"<parent>{coords_xml(g, a, v)}<relativePath>../x</relativePath></parent>"


def props(**kw: str) -> str:
    return "<properties>" + "".join(f"<{k}>{v}</{k}>" for k, v in kw.items()) + "</properties>"


def kids(eff, **kw) -> list[tuple[str, str]]:
    return [(str(c.coords), c.relation) for c in children_of(eff, **kw)]


# --- layout -------------------------------------------------------------------------------

def test_layout_paths():
    c = C("org.example.foo", "bar", "1.2")
    assert pom_path(c) == "org/example/foo/bar/1.2/bar-1.2.pom"
    assert artifact_path(c, "jar") == "org/example/foo/bar/1.2/bar-1.2.jar"
    assert artifact_path(c, "bundle") == artifact_path(c, "maven-plugin")
    assert artifact_path(c, "war") == "org/example/foo/bar/1.2/bar-1.2.war"
    assert artifact_path(c, "jar", "sources") == "org/example/foo/bar/1.2/bar-1.2-sources.jar"
    assert artifact_path(c, "pom") is None
    assert metadata_path("org.example.foo", "bar") == "org/example/foo/bar/maven-metadata.xml"
    assert sidecar_path(pom_path(c), "sha1").endswith("bar-1.2.pom.sha1")
    assert C.parse("g:a:1") == C("g", "a", "1") and str(C("g", "a", "1")) == "g:a:1"
    with pytest.raises(MetadataError):
        C.parse("g:a")


# --- parsing ------------------------------------------------------------------------------

@pytest.mark.parametrize("ns", [True, False], ids=["namespace", "no-namespace"])
def test_parse_reads_every_section(ns):
    body = (parent_xml("org.p", "parent", "3") + "<artifactId>child</artifactId>"
            "<packaging>bundle</packaging>" + props(**{"a.b": " 1.0 "})
            + deps(dep("x", "m", "2", scope="import", type="pom"), managed=True)
            + deps(dep("x", "y", "${a.b}", scope="test", optional=True, classifier="tests",
                       excl=[("e", "f"), ("*", "*")]))
            + "<distributionManagement><relocation><groupId>new</groupId></relocation>"
              "</distributionManagement>")
    raw = parse_pom(pom(body, ns), url="http://127.0.0.1/c.pom")
    assert (raw.group, raw.artifact, raw.version, raw.packaging) == (None, "child", None, "bundle")
    assert (raw.parent.group, raw.parent.artifact, raw.parent.version) == ("org.p", "parent", "3")
    assert raw.properties == {"a.b": "1.0"}
    (m,) = raw.management
    assert (m.type, m.scope) == ("pom", "import")
    assert m.where == "dependencyManagement/dependencies/dependency[1]"
    (d,) = raw.dependencies
    assert (d.version, d.scope, d.optional, d.classifier) == ("${a.b}", "test", "true", "tests")
    assert d.exclusions == (("e", "f"), ("*", "*")) and d.where == "dependencies/dependency[1]"
    assert (raw.relocation.group, raw.relocation.artifact) == ("new", None)


def test_entity_expansion_bomb_is_refused_quickly_naming_the_url():
    lol = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol%s;" % ("" if i == 1 else i - 1)) * 10}">' for i in range(1, 10)
    ]
    bomb = ('<?xml version="1.0"?><!DOCTYPE project [' + "".join(lol) + ']>'
            "<project><artifactId>&lol9;</artifactId></project>").encode()
    start = time.monotonic()
    with pytest.raises(MetadataError, match=re.escape("http://127.0.0.1/bomb.pom")):
        parse_pom(bomb, url="http://127.0.0.1/bomb.pom")
    assert time.monotonic() - start < 2


def test_external_entities_and_malformed_xml_are_metadata_errors():
    xxe = (b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b"<project><artifactId>&x;</artifactId></project>")
    with pytest.raises(MetadataError, match="forbidden"):
        parse_pom(xxe, url="u")
    with pytest.raises(MetadataError, match="not well-formed"):
        parse_pom(b"<project><artifactId>a</project>", url="u")
    with pytest.raises(MetadataError, match="expected <project>"):
        parse_pom(b"<metadata/>", url="u")
    with pytest.raises(MetadataError, match="artifactId is missing"):
        parse_pom(pom("<groupId>g</groupId>"), url="u")


# --- effective model ----------------------------------------------------------------------

def eff_chain(*poms: bytes, imports=()):
    """Effective model of the last POM; each POM's parent is the one before it."""
    eff = None
    for i, data in enumerate(poms):
        raw = parse_pom(data, url=f"http://127.0.0.1/p{i}.pom")
        eff = build_effective(raw, eff, imports if i == len(poms) - 1 else ())
    return eff


def test_inheritance_properties_and_interpolation_in_child_context():
    top = pom(coords_xml("org.top", "top", "9", "<packaging>pom</packaging>")
              + props(base="2", **{"lib.version": "${base}.1", "over": "top"})
              + deps(dep("org.lib", "managed", "${project.version}"), managed=True)
              + deps(dep("org.lib", "from-top", "${over}")))
    mid = pom(parent_xml("org.top", "top", "9") + "<artifactId>mid</artifactId>"
              + props(over="mid"))
    leaf = pom(parent_xml("org.top", "mid", "9") + "<artifactId>leaf</artifactId>"
               "<version>1.0</version>"
               + deps(dep("org.lib", "a", "${lib.version}"), dep("org.lib", "managed"),
                      dep("${project.groupId}", "sib", "${project.parent.version}"),
                      dep("org.lib", "old-style", "${pom.version}")))
    eff = eff_chain(top, mid, leaf)
    assert eff.coords == C("org.top", "leaf", "1.0")
    assert eff.parent == C("org.top", "mid", "9")
    assert eff.packaging == "jar"
    assert kids(eff) == [
        ("org.top:mid:9", "parent"),
        ("org.lib:a:2.1", "dependency:compile"),
        ("org.lib:managed:1.0", "dependency:compile"),  # ${project.version} of the leaf
        ("org.top:sib:9", "dependency:compile"),
        ("org.lib:old-style:1.0", "dependency:compile"),
        ("org.lib:from-top:mid", "dependency:compile"),  # inherited, nearest property wins
    ]
    assert eff.property("lib.version") == "2.1"


def test_undefined_property_names_url_and_element_only_when_followed():
    data = pom(coords_xml("g", "a", "1") + deps(
        dep("x", "ok", "1"), dep("x", "t", "${nope}", scope="test"),
        dep("x", "bad", "${foo.version}")))
    eff = eff_chain(data)
    with pytest.raises(MetadataError) as info:
        children_of(eff)
    msg = str(info.value)
    assert "http://127.0.0.1/p0.pom" in msg
    assert "dependencies/dependency[3]/version: ${foo.version} is not defined" in msg
    assert info.value.field == "dependencies/dependency[3]"
    with pytest.raises(MetadataError, match=r"dependency\[2\]/version"):
        children_of(eff, scopes=("test",))


def test_property_cycle_and_missing_version_are_errors():
    data = pom(coords_xml("g", "a", "1") + props(a="${b}", b="x${a}")
               + deps(dep("x", "y", "${a}"), dep("x", "z")))
    with pytest.raises(MetadataError, match="cycle: a -> b -> a"):
        children_of(eff_chain(data))
    data = pom(coords_xml("g", "a", "1") + deps(dep("x", "z")))
    with pytest.raises(MetadataError, match=r"dependency\[1\]/version: is missing"):
        children_of(eff_chain(data))
    with pytest.raises(MetadataError, match="project/version: properties form a cycle"):
        eff_chain(pom("<groupId>g</groupId><artifactId>a</artifactId>"
                      "<version>${project.version}</version>"))
    with pytest.raises(MetadataError, match="groupId is missing"):
        eff_chain(pom("<artifactId>a</artifactId><version>1</version>"))


def test_management_fills_version_scope_optional_and_exclusions_by_full_key():
    data = pom(coords_xml("g", "app", "1")
               + deps(dep("x", "a", "1.5", scope="runtime", excl=[("e", "e")]),
                      dep("x", "b", "2", type="test-jar"), dep("x", "c", "3", optional=True),
                      dep("x", "d", "4", excl=[("m", "m")]), managed=True)
               + deps(dep("x", "a"), dep("x", "b", "9"), dep("x", "c"),
                      dep("x", "d", excl=[("own", "own")]), dep("x", "a", "7", scope="compile")))
    eff = eff_chain(data)
    by = {(d.artifact, d.version): d for d in eff.dependencies}
    a = by[("a", "1.5")]
    assert (a.scope, a.exclusions) == ("runtime", frozenset({("e", "e")}))
    assert by[("b", "9")].scope == "compile"  # management of type test-jar does not apply
    assert by[("c", "3")].optional is True
    assert by[("d", "4")].exclusions == frozenset({("own", "own")})
    assert by[("a", "7")].scope == "compile"
    assert kids(eff) == [("x:a:1.5", "dependency:runtime"), ("x:b:9", "dependency:compile"),
                         ("x:d:4", "dependency:compile"), ("x:a:7", "dependency:compile")]


def test_bom_imports_own_management_first_then_imports_in_order():
    bom1 = eff_chain(pom(coords_xml("b", "bom1", "1", "<packaging>pom</packaging>")
                         + deps(dep("x", "a", "9"), dep("x", "b", "1"), managed=True)))
    bom2 = eff_chain(pom(coords_xml("b", "bom2", "1", "<packaging>pom</packaging>")
                         + deps(dep("x", "b", "2"), dep("x", "c", "3", scope="runtime"),
                                managed=True)))
    app = pom(coords_xml("g", "app", "1") + props(**{"bom.version": "1"})
              + deps(dep("x", "a", "5"), dep("b", "bom1", "${bom.version}", type="pom",
                                             scope="import"),
                     dep("b", "bom2", "1", type="pom", scope="import"), managed=True)
              + deps(dep("x", "a"), dep("x", "b"), dep("x", "c")))
    first = eff_chain(app)
    assert first.import_coordinates == [C("b", "bom1", "1"), C("b", "bom2", "1")]
    eff = eff_chain(app, imports=[bom1, bom2])
    assert kids(eff) == [("b:bom1:1", "import"), ("b:bom2:1", "import"),
                         ("x:a:5", "dependency:compile"), ("x:b:1", "dependency:compile"),
                         ("x:c:3", "dependency:runtime")]
    with pytest.raises(MetadataError, match="1 BOMs given for 2 imports"):
        eff_chain(app, imports=[bom1])


def test_a_prepared_model_finished_with_its_boms_equals_two_builds_and_stays_unchanged():
    bom = eff_chain(pom(coords_xml("b", "bom", "1", "<packaging>pom</packaging>")
                        + deps(dep("x", "a", "9"), managed=True)))
    raw = parse_pom(pom(coords_xml("g", "app", "1")
                        + deps(dep("b", "bom", "1", type="pom", scope="import"), managed=True)
                        + deps(dep("x", "a"))), url="u")
    base = prepare_effective(raw)
    assert base.import_coordinates == [C("b", "bom", "1")] and base.management == {}
    without, once = finish_effective(base), finish_effective(base, [bom])
    assert base.management == {}  # finishing copies what the BOMs add
    assert without.dependencies[0].problem and once.dependencies[0].version == "9"
    twice = build_effective(raw, None, [bom])
    assert (once.dependencies, once.management, once.imports) == \
        (twice.dependencies, twice.management, twice.imports)


# --- children_of --------------------------------------------------------------------------

def test_children_scopes_optional_and_exclusions():
    data = pom(coords_xml("g", "a", "1") + deps(
        dep("x", "c"), dep("x", "r", "1", scope="runtime"), dep("x", "t", "1", scope="test"),
        dep("x", "p", "1", scope="provided"), dep("x", "o", "1", optional=True),
        dep("y", "z", "1", excl=[("k", "k")]), dep("x", "c", "1"), dep("q", "w", "[1,2)")))
    data = data.replace(b"<artifactId>c</artifactId></dependency>", b"<artifactId>c</artifactId>"
                        b"<version>1</version></dependency>", 1)
    eff = eff_chain(data)
    assert kids(eff) == [("x:c:1", "dependency:compile"), ("x:r:1", "dependency:runtime"),
                         ("y:z:1", "dependency:compile"), ("q:w:[1,2)", "dependency:compile")]
    assert kids(eff, scopes=("test", "provided"), include_optional=True) == [
        ("x:t:1", "dependency:test"), ("x:p:1", "dependency:provided")]
    assert ("x:o:1", "dependency:compile") in kids(eff, include_optional=True)
    assert kids(eff, exclusions=frozenset({("x", "*")})) == [
        ("y:z:1", "dependency:compile"), ("q:w:[1,2)", "dependency:compile")]
    assert kids(eff, exclusions=frozenset({("*", "*")})) == []
    z = next(c for c in children_of(eff, exclusions=frozenset({("a", "b")}))
             if c.coords.artifact == "z")
    assert z.exclusions == frozenset({("a", "b"), ("k", "k")})
    rng = next(c for c in children_of(eff) if c.is_range)
    assert rng.with_version("1.5").coords == C("q", "w", "1.5")


def test_relocation_yields_only_the_relocation_with_defaults():
    data = pom(coords_xml("old", "w", "2") + deps(dep("x", "y", "1"))
               + "<distributionManagement><relocation><groupId>new</groupId></relocation>"
                 "</distributionManagement>")
    children = children_of(eff_chain(data), exclusions=frozenset({("e", "e")}))
    assert children == [Child(C("new", "w", "2"), "relocation", frozenset({("e", "e")}))]


# --- resolver -----------------------------------------------------------------------------

class Remote:
    """An in-memory repository of POMs by coordinates, counting fetches."""

    def __init__(self, poms: dict[str, bytes], metadata: dict[str, bytes] | None = None):
        self.poms = {C.parse(k): v for k, v in poms.items()}
        self.metadata = metadata or {}
        self.calls: list[Coordinates] = []
        self.gates: dict[Coordinates, asyncio.Event] = {}

    async def fetch(self, c: Coordinates) -> bytes:
        self.calls.append(c)
        await asyncio.sleep(0)  # let other requests pile up, as a network would
        if c in self.gates:
            await self.gates[c].wait()
        if c not in self.poms:
            raise FileNotFoundError(f"no POM for {c}")
        return self.poms[c]

    async def fetch_meta(self, g: str, a: str) -> bytes:
        return self.metadata[f"{g}:{a}"]

    def resolver(self) -> PomResolver:
        return PomResolver(self.fetch, "http://127.0.0.1/repo", fetch_metadata=self.fetch_meta)


def simple(g, a, v, body="", parent=None) -> bytes:
    head = parent_xml(*parent.split(":")) if parent else ""
    return pom(head + coords_xml(g, a, v) + body)


async def test_resolver_fetches_each_pom_once_under_concurrency():
    poms = {"g:parent:1": simple("g", "parent", "1", props(v="7")),
            "g:bom:1": simple("g", "bom", "1", deps(dep("x", "m", "${v}"), managed=True)
                              + props(v="3"))}
    for i in range(10):
        poms[f"g:c{i}:1"] = simple("g", f"c{i}", "1", deps(
            dep("g", "bom", "1", type="pom", scope="import"), managed=True)
            + deps(dep("x", "m"), dep("x", "n", "${v}")), parent="g:parent:1")
    remote = Remote(poms)
    async with asyncio.timeout(10), remote.resolver() as r:
        effs = await asyncio.gather(*(r.effective(C("g", f"c{i}", "1")) for i in range(10)),
                                    *(r.effective(C("g", "c0", "1")) for _ in range(5)))
    assert sorted(map(str, remote.calls)) == sorted(poms)  # one fetch per POM
    assert r.fetches == 12
    assert kids(effs[3]) == [("g:parent:1", "parent"), ("g:bom:1", "import"),
                             ("x:m:3", "dependency:compile"), ("x:n:7", "dependency:compile")]
    assert effs[0] is effs[10]


async def test_unrelated_poms_resolve_concurrently():
    remote = Remote({"g:x:1": simple("g", "x", "1"), "g:y:1": simple("g", "y", "1")})
    remote.gates[C("g", "x", "1")] = asyncio.Event()
    async with asyncio.timeout(10), remote.resolver() as r:
        task_x = asyncio.create_task(r.effective(C("g", "x", "1")))
        y = await r.effective(C("g", "y", "1"))  # finishes while x is blocked
        assert not task_x.done()
        remote.gates[C("g", "x", "1")].set()
        x = await task_x
    assert (x.coords.artifact, y.coords.artifact) == ("x", "y")


@pytest.mark.parametrize("case", ["parent-cycle", "self-parent", "import-cycle", "mixed"])
async def test_cycles_raise_metadata_error_without_hanging(case):
    imp = deps(dep("g", "b", "1", type="pom", scope="import"), managed=True)
    imp_a = deps(dep("g", "a", "1", type="pom", scope="import"), managed=True)
    poms = {
        "parent-cycle": {"g:a:1": simple("g", "a", "1", parent="g:b:1"),
                         "g:b:1": simple("g", "b", "1", parent="g:a:1")},
        "self-parent": {"g:a:1": simple("g", "a", "1", parent="g:a:1")},
        "import-cycle": {"g:a:1": simple("g", "a", "1", imp),
                         "g:b:1": simple("g", "b", "1", imp_a)},
        "mixed": {"g:a:1": simple("g", "a", "1", imp), "g:b:1": simple("g", "b", "1",
                                                                       parent="g:a:1")},
    }[case]
    remote = Remote(poms)
    async with asyncio.timeout(10), remote.resolver() as r:
        results = await asyncio.gather(*(r.effective(C.parse(k)) for k in poms),
                                       return_exceptions=True)
    assert all(isinstance(e, MetadataError) for e in results), results
    assert any("form a cycle" in str(e) for e in results)
    assert len(remote.calls) == len(poms)


async def test_parent_range_and_missing_poms():
    meta = (b"<metadata><versioning><versions><version>1</version><version>2</version>"
            b"<version>3</version></versions></versioning></metadata>")
    remote = Remote({"g:p:2": simple("g", "p", "2", props(x="from-2")),
                     "g:c:2": pom(parent_xml("g", "p", "[1,3)") + "<artifactId>c</artifactId>"
                                  + deps(dep("x", "y", "${x}"), dep("g", "gone", "1")))},
                    {"g:p": meta})
    async with asyncio.timeout(10), remote.resolver() as r:
        eff = await r.effective(C("g", "c", "2"))
        assert eff.coords == C("g", "c", "2") and eff.parent == C("g", "p", "2")
        assert kids(eff)[1] == ("x:y:from-2", "dependency:compile")
        with pytest.raises(FileNotFoundError):
            await r.effective(C("g", "gone", "1"))
        with pytest.raises(FileNotFoundError):  # failures are cached, not refetched
            await r.effective(C("g", "gone", "1"))
        child = await r.resolve_child(Child(C("g", "p", "(,2]"), "dependency:compile"))
        assert child.coords.version == "2"
    assert remote.calls.count(C("g", "gone", "1")) == 1


async def test_range_without_metadata_fetcher_is_a_metadata_error():
    remote = Remote({"g:c:2": pom(parent_xml("g", "p", "[1,3)") + "<artifactId>c</artifactId>")})
    async with asyncio.timeout(10), PomResolver(remote.fetch, "http://127.0.0.1/") as r:
        with pytest.raises(MetadataError, match="no fetch_metadata"):
            await r.effective(C("g", "c", "2"))


async def test_cancelled_caller_does_not_cancel_the_shared_fetch_and_aclose_cleans_up(
        no_leftover_tasks):
    remote = Remote({"g:x:1": simple("g", "x", "1")})
    gate = remote.gates[C("g", "x", "1")] = asyncio.Event()
    async with asyncio.timeout(10):
        r = remote.resolver()
        first = asyncio.create_task(r.effective(C("g", "x", "1")))
        second = asyncio.create_task(r.effective(C("g", "x", "1")))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        gate.set()
        assert (await second).coords == C("g", "x", "1")
        assert len(remote.calls) == 1
        del remote.gates[C("g", "x", "1")]
        remote.poms[C("g", "y", "1")] = simple("g", "y", "1")
        remote.gates[C("g", "y", "1")] = asyncio.Event()  # never set: aclose must cancel it
        pending = asyncio.create_task(r.effective(C("g", "y", "1")))
        await asyncio.sleep(0)
        await r.aclose()
        pending.cancel()
        await asyncio.gather(pending, return_exceptions=True)
        no_leftover_tasks()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-8-sig"])
def test_entities_are_refused_whatever_the_encoding(encoding):
    # The quick parser takes only documents whose bytes show no DOCTYPE in ASCII markup:
    # a DOCTYPE hidden by another encoding must still reach the defused parser.
    text = (f'<?xml version="1.0" encoding="{encoding.removesuffix("-sig")}"?>'
            '<!DOCTYPE p [<!ENTITY x "x">]><project><artifactId>&x;</artifactId></project>')
    data = text.encode(encoding)
    if encoding == "utf-16-le":
        data = text.replace(' encoding="utf-16-le"', "").encode("utf-16")
    with pytest.raises(MetadataError, match="forbidden"):
        parse_pom(data, url="u")


def test_pom_in_another_encoding_is_read():
    text = ('<?xml version="1.0" encoding="ISO-8859-1"?>'
            "<project><artifactId>caf\u00e9</artifactId><version>1</version></project>")
    assert parse_pom(text.encode("latin-1"), url="u").artifact == "caf\u00e9"
    text16 = "<project><artifactId>b</artifactId><version>2</version></project>"
    assert parse_pom(text16.encode("utf-16"), url="u").version == "2"
