"""Building blocks of the Maven fixture repository: POM specs, rendering, the expected answer.

A scenario adds `GenPom`s to a `MavenRepoBuilder`: what each POM *writes* (properties,
parent, management, dependencies as written) and, separately, the discovery edges it
*means* (`GenEdge`, with versions already resolved by the scenario's author). The
expected answer is computed from the edges, never from the XML, so a parser that
disagrees with the author shows up as a difference.

Expected semantics (the defaults of a Maven explorer): follow ``parent``, ``import``,
``relocation`` and ``dependency:compile`` / ``dependency:runtime`` edges, skip optional
dependencies; a dependency's exclusions apply to the subtree under it (parent and import
edges start with none). Exclusions apply per path, and the answer is the union over
every path: a POM reached along two paths has the children either path allows (so the
answer never depends on the exploration order); its depth is its shortest path.
"""

from __future__ import annotations

import hashlib
import io
import random
import zipfile
from collections import deque
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from stagekit.testing.repo import Expected, ExpectedArtifact, ExpectedUnit, Repo, StaticFile

__all__ = [
    "CHECKSUM_HEADER_STYLES",
    "GenDep",
    "GenEdge",
    "GenPom",
    "MavenRepo",
    "MavenRepoBuilder",
    "checksum_headers",
    "layout_dir",
]

POM_NS = "http://maven.apache.org/POM/4.0.0"
FOLLOWED_SCOPES = ("compile", "runtime")
_EXTENSIONS = {"jar": "jar", "bundle": "jar", "maven-plugin": "jar", "war": "war", "pom": None}
_DATE = (2024, 1, 1, 0, 0, 0)
_XML = "application/xml"


def layout_dir(group: str, artifact: str) -> str:
    """``group/as/dirs/artifact`` (the artifact directory of the Maven 2 layout)."""
    return f"{group.replace('.', '/')}/{artifact}"


@dataclass(slots=True)
class GenDep:
    """A ``<dependency>`` as written; ``version``/``scope`` None means the element is omitted."""

    group: str
    artifact: str
    version: str | None = None
    scope: str | None = None
    type: str | None = None
    optional: bool = False
    exclusions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class GenEdge:
    """A discovery edge the author means: to ``target`` (``g:a:v``) by ``relation``.

    For dependencies ``exclusions`` are the dependency's own (after management).
    """

    target: str
    relation: str
    optional: bool = False
    exclusions: frozenset[tuple[str, str]] = frozenset()

    @property
    def ga(self) -> tuple[str, str]:
        """``(groupId, artifactId)`` of the target."""
        g, a, _ = self.target.split(":")
        return (g, a)


@dataclass(slots=True)
class GenPom:
    """One POM to write, and the edges it means."""

    group: str
    artifact: str
    version: str
    packaging: str = "jar"
    parent: str | None = None
    write_group: bool = True
    write_version: bool = True
    properties: dict[str, str] = field(default_factory=dict)
    managed: list[GenDep] = field(default_factory=list)
    deps: list[GenDep] = field(default_factory=list)
    relocation: tuple[str | None, str | None, str | None] | None = None
    namespace: bool = True
    edges: list[GenEdge] = field(default_factory=list)

    @property
    def gav(self) -> str:
        """``g:a:v``."""
        return f"{self.group}:{self.artifact}:{self.version}"

    @property
    def _base(self) -> str:
        v = self.version
        return f"{layout_dir(self.group, self.artifact)}/{v}/{self.artifact}-{v}"

    @property
    def pom_path(self) -> str:
        """Layout path of the POM."""
        return self._base + ".pom"

    @property
    def main_path(self) -> str | None:
        """Layout path of the main artifact (None for ``pom`` packaging)."""
        ext = _EXTENSIONS[self.packaging]
        if ext is None:
            return None
        return f"{self._base}.{ext}"

    def edge(self, target: str, relation: str, *, optional: bool = False,
             exclusions: tuple[tuple[str, str], ...] | frozenset[tuple[str, str]] = ()) -> None:
        """Record a discovery edge this POM means."""
        self.edges.append(GenEdge(target, relation, optional, frozenset(exclusions)))


#: How a repository sends a file's digest with it: not at all, ``X-Checksum-Sha1`` and
#: ``X-Checksum-Md5`` headers (as Artifactory and the big public repositories do), or a
#: Nexus-style ``ETag: "{SHA1{hex}}"``.
CHECKSUM_HEADER_STYLES = ("", "x-checksum", "nexus-etag")


def checksum_headers(body: bytes, style: str) -> tuple[tuple[str, str], ...]:
    """The checksum headers a repository of ``style`` sends with ``body``."""
    if style == "x-checksum":
        return (("X-Checksum-Sha1", hashlib.sha1(body).hexdigest()),
                ("X-Checksum-Md5", hashlib.md5(body).hexdigest()))
    if style == "nexus-etag":
        return (("ETag", f'"{{SHA1{{{hashlib.sha1(body).hexdigest()}}}}}"'),)
    return ()


def _el(name: str, value: str | None, indent: str) -> str:
    return "" if value is None else f"{indent}<{name}>{escape(value)}</{name}>\n"


def _dep_xml(d: GenDep, indent: str) -> str:
    inner = indent + "  "
    out = [f"{indent}<dependency>\n", _el("groupId", d.group, inner),
           _el("artifactId", d.artifact, inner), _el("version", d.version, inner),
           _el("type", d.type, inner), _el("scope", d.scope, inner)]
    if d.optional:
        out.append(_el("optional", "true", inner))
    if d.exclusions:
        out.append(f"{inner}<exclusions>\n")
        for g, a in d.exclusions:
            out.append(f"{inner}  <exclusion><groupId>{escape(g)}</groupId>"
                       f"<artifactId>{escape(a)}</artifactId></exclusion>\n")
        out.append(f"{inner}</exclusions>\n")
    out.append(f"{indent}</dependency>\n")
    return "".join(out)


def render_pom(p: GenPom) -> bytes:
    """The POM XML of ``p`` (with the 4.0.0 namespace unless ``p.namespace`` is False)."""
    ns = (f' xmlns="{POM_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
          if p.namespace else "")
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', f"<project{ns}>\n",
           "  <modelVersion>4.0.0</modelVersion>\n"]
    if p.parent is not None:
        g, a, v = p.parent.split(":")
        out.append(f"  <parent>\n{_el('groupId', g, '    ')}{_el('artifactId', a, '    ')}"
                   f"{_el('version', v, '    ')}    <relativePath/>\n  </parent>\n")
    out.append(_el("groupId", p.group if p.write_group else None, "  "))
    out.append(_el("artifactId", p.artifact, "  "))
    out.append(_el("version", p.version if p.write_version else None, "  "))
    if p.packaging != "jar":
        out.append(_el("packaging", p.packaging, "  "))
    out.append(_el("name", f"{p.artifact} (generated)", "  "))
    if p.properties:
        out.append("  <properties>\n")
        out.extend(_el(k, v, "    ") for k, v in p.properties.items())
        out.append("  </properties>\n")
    if p.managed:
        out.append("  <dependencyManagement>\n    <dependencies>\n")
        out.extend(_dep_xml(d, "      ") for d in p.managed)
        out.append("    </dependencies>\n  </dependencyManagement>\n")
    if p.deps:
        out.append("  <dependencies>\n")
        out.extend(_dep_xml(d, "    ") for d in p.deps)
        out.append("  </dependencies>\n")
    if p.relocation is not None:
        rg, ra, rv = p.relocation
        inner = "      "
        out.append("  <distributionManagement>\n    <relocation>\n"
                   f"{_el('groupId', rg, inner)}{_el('artifactId', ra, inner)}"
                   f"{_el('version', rv, inner)}    </relocation>\n  </distributionManagement>\n")
    out.append("</project>\n")
    return "".join(out).encode()


def render_metadata(group: str, artifact: str, versions: list[str]) -> bytes:
    """An artifact-level maven-metadata.xml; ``versions`` in deploy order, last is newest."""
    listed = "".join(f"      <version>{escape(v)}</version>\n" for v in versions)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<metadata>\n'
        f"  <groupId>{escape(group)}</groupId>\n  <artifactId>{escape(artifact)}</artifactId>\n"
        f"  <versioning>\n    <latest>{escape(versions[-1])}</latest>\n"
        f"    <release>{escape(versions[-1])}</release>\n    <versions>\n{listed}"
        "    </versions>\n    <lastUpdated>20240101000000</lastUpdated>\n"
        "  </versioning>\n</metadata>\n"
    ).encode()


def _jar(rng: random.Random, name: str, size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo("META-INF/MANIFEST.MF", _DATE),
                   "Manifest-Version: 1.0\r\nCreated-By: stagekit.testing\r\n\r\n")
        z.writestr(zipfile.ZipInfo(f"{name}/payload.bin", _DATE), rng.randbytes(size))
    return buf.getvalue()


class MavenRepo(Repo):
    """A generated Maven repository; ``roots`` are the ``g:a:v`` an explorer starts from."""

    def __init__(self, files: dict[str, StaticFile], expected: Expected, roots: list[str],
                 prefix: str = "") -> None:
        super().__init__(files, expected)
        self.roots = list(roots)
        self.prefix = prefix

    def entry_path(self) -> str:
        """The repository's base path (POM paths are relative to it)."""
        return self.prefix


class MavenRepoBuilder:
    """Collects POMs and roots, then renders files and computes the expected answer."""

    def __init__(self, *, seed: int = 0, jar_size: int = 256, with_sidecars: bool = True,
                 prefix: str = "", checksum_headers: str = "") -> None:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        if checksum_headers not in CHECKSUM_HEADER_STYLES:
            raise ValueError(f"checksum_headers={checksum_headers!r}: choose from "
                             f"{', '.join(map(repr, CHECKSUM_HEADER_STYLES))}")
        self.checksum_headers = checksum_headers
        self.rng = random.Random(seed)
        self.jar_size = jar_size
        self.with_sidecars = with_sidecars
        self.prefix = prefix
        self.poms: dict[str, GenPom] = {}
        self.roots: list[str] = []

    def add(self, pom: GenPom) -> GenPom:
        """Add a POM (its ``g:a:v`` must be new)."""
        if pom.gav in self.poms:
            raise ValueError(f"POM {pom.gav} added twice")
        self.poms[pom.gav] = pom
        return pom

    def _put(self, files: dict[str, StaticFile], path: str, body: bytes, ctype: str) -> None:
        headers = checksum_headers(body, self.checksum_headers)
        files[self.prefix + path] = StaticFile(body, ctype, headers=headers)
        if self.with_sidecars:
            files[self.prefix + path + ".sha1"] = StaticFile(
                hashlib.sha1(body).hexdigest().encode(), "text/plain")
            files[self.prefix + path + ".md5"] = StaticFile(
                hashlib.md5(body).hexdigest().encode(), "text/plain")

    def build(self) -> MavenRepo:
        """Render every file and compute `Expected`; raises ValueError for a bad scenario."""
        files: dict[str, StaticFile] = {}
        versions: dict[tuple[str, str], list[str]] = {}
        for pom in self.poms.values():
            self._put(files, pom.pom_path, render_pom(pom), _XML)
            if pom.main_path is not None:
                jar = _jar(self.rng, pom.artifact, self.jar_size)
                self._put(files, pom.main_path, jar, "application/java-archive")
            versions.setdefault((pom.group, pom.artifact), []).append(pom.version)
        for (g, a), vs in versions.items():
            self._put(files, f"{layout_dir(g, a)}/maven-metadata.xml",
                      render_metadata(g, a, vs), _XML)
        return MavenRepo(files, self._expected(files), self.roots, self.prefix)

    def _followed(self, pom: GenPom, excl: frozenset) -> list[tuple[GenEdge, frozenset]]:
        out = []
        for e in pom.edges:
            if e.relation.startswith("dependency:"):
                if e.relation.split(":", 1)[1] not in FOLLOWED_SCOPES or e.optional:
                    continue
                g, a = e.ga
                if any(eg in ("*", g) and ea in ("*", a) for eg, ea in excl):
                    continue
                out.append((e, excl | e.exclusions))
            elif e.relation == "relocation":
                out.append((e, excl))
            else:
                out.append((e, frozenset()))
        return out

    def _expected(self, files: dict[str, StaticFile]) -> Expected:
        # Exclusions apply per path and the answer is the union over every path: walk
        # every (POM, exclusions) state, take every edge some state follows, then give
        # each POM its shortest depth in the graph of those edges.
        expected = Expected()
        queue: deque[tuple[str, frozenset[tuple[str, str]]]] = deque(
            (root, frozenset()) for root in self.roots)
        seen_states: set[tuple[str, frozenset]] = set()
        while queue:
            gav, excl = queue.popleft()
            if (gav, excl) in seen_states:
                continue
            seen_states.add((gav, excl))
            if gav not in self.poms:
                raise ValueError(f"scenario follows {gav}, whose POM is not generated")
            for e, child_excl in self._followed(self.poms[gav], excl):
                expected.edges.add((f"maven.pom:{gav}", f"maven.pom:{e.target}", e.relation))
                queue.append((e.target, child_excl))
        out: dict[str, list[str]] = {}
        for parent, child, _ in expected.edges:
            out.setdefault(parent.removeprefix("maven.pom:"), []).append(
                child.removeprefix("maven.pom:"))
        depth: dict[str, int] = {}
        walk = deque((root, 0) for root in self.roots)
        while walk:
            gav, d = walk.popleft()
            if gav in depth:
                continue
            depth[gav] = d
            walk.extend((child, d + 1) for child in out.get(gav, ()))
        for gav, d in depth.items():
            pom = self.poms[gav]
            arts = []
            for path, deferred in ((pom.pom_path, False), (pom.main_path, True)):
                if path is None:
                    continue
                body = files[self.prefix + path].body
                arts.append(ExpectedArtifact(path, hashlib.sha256(body).hexdigest(), len(body),
                                             self.prefix + path, deferred))
            expected.add_unit(ExpectedUnit(f"maven.pom:{gav}", "maven.pom", d, arts))
        return expected
