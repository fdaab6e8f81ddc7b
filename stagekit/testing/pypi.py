"""Generated Python package indexes (PEP 503/691 simple API) with a known answer.

A `PyPIRepoBuilder` takes releases (name, version, Requires-Dist lines, yanked state,
Requires-Python, which files) and roots (requirement strings), and builds a `PyPIRepo`
serving ``simple/`` (index) and ``simple/<name>/`` pages as HTML and JSON by ``Accept``
(or one of them only), the files under ``packages/<name>/`` linked relatively, and the
PEP 658 ``.metadata`` file of each wheel (unless ``metadata_files=False``). Non-normalized
project names (``Foo_Bar``) redirect to the normalized page.

``repo.expected`` is what an explorer with the builder's ``environment`` finds: units
``pypi.release:<name>:<version>`` at their shortest depth, with their ``.metadata`` file
(fetched) and distribution files (deferred), and ``(parent, child, requirement)`` edges.
The answer is computed by `stagekit.testing.pypi_answer` breadth first: see there for the
version rule (no backtracking); scenarios are written so the answer does not depend on the
order in which an explorer meets requirements.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from stagekit.testing.pypi_dists import (
    core_metadata,
    dist_name,
    make_sdist,
    make_wheel,
    wheel_filename,
)
from stagekit.testing.repo import ExpectedArtifact, Repo, StaticFile

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["JSON_TYPE", "GenRelease", "PyPIRepo", "PyPIRepoBuilder", "all_scenarios",
           "make_pypi_repo", "normalize"]

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "text/html; charset=utf-8"
Formats = Literal["both", "html", "json"]


def normalize(name: str) -> str:
    """PEP 503 normalized name."""
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(slots=True)
class GenRelease:
    """One release to generate. ``yanked``: None, or the reason ("" for none)."""

    name: str
    version: str
    requires: tuple[str, ...] = ()
    requires_python: str | None = None
    yanked: str | None = None
    wheel: bool = True
    sdist: bool = True
    sdist_metadata_version: str = "2.2"
    dynamic_requires: bool = False
    payload: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    metadata: bytes = b""

    @property
    def project(self) -> str:
        """The normalized project name."""
        return normalize(self.name)

    @property
    def key(self) -> str:
        """The unit key an explorer gives this release."""
        return f"pypi.release:{self.project}:{self.version}"


class PyPIRepo(Repo):
    """A generated index; `entry_path` is ``simple/``; ``roots`` are requirement strings."""

    def __init__(self, files: dict[str, StaticFile], releases: list[GenRelease],
                 roots: list[str], aliases: dict[str, str]) -> None:
        super().__init__(files)
        self.releases = releases
        self.roots = roots
        self.aliases = aliases
        #: Keys of releases whose dependencies an explorer cannot know (old sdists).
        self.unknown: set[str] = set()
        #: ``(project, version)`` that a later requirement superseded, and conflicts.
        self.superseded: set[str] = set()
        self.conflicts: set[str] = set()

    def entry_path(self) -> str:
        """The index root."""
        return "simple/"

    def release(self, project: str, version: str) -> GenRelease:
        """The generated release ``project==version``."""
        for r in self.releases:
            if r.project == normalize(project) and r.version == version:
                return r
        raise KeyError(f"{project}=={version}")

    def add_routes(self, app: web.Application) -> None:
        """Redirect every non-normalized project name to its page."""
        from aiohttp import web

        for alias, target in self.aliases.items():
            async def redirect(request: web.Request, target: str = target) -> web.Response:
                raise web.HTTPMovedPermanently(f"/simple/{target}/")

            app.router.add_get(f"/simple/{alias}/", redirect)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class PyPIRepoBuilder:
    """Collects releases and roots, then `build`s a `PyPIRepo` and its answer.

    ``formats``: serve pages as HTML and JSON by Accept ("both"), or one only.
    ``metadata_files``: offer PEP 658 ``.metadata`` for wheels. ``environment``: the PEP
    508 marker variables of the answer (default: this interpreter's).
    """

    def __init__(self, *, formats: Formats = "both", metadata_files: bool = True,
                 environment: Mapping[str, str] | None = None, prereleases: bool = False,
                 seed: int = 0) -> None:
        if formats not in ("both", "html", "json"):
            raise ValueError(f"formats must be 'both', 'html' or 'json', got {formats!r}")
        self.formats = formats
        self.metadata_files = metadata_files
        self.environment = dict(environment) if environment is not None else None
        self.prereleases = prereleases
        self.seed = seed
        self.releases: list[GenRelease] = []
        self.roots: list[str] = []
        self.display_names: dict[str, str] = {}

    def release(self, name: str, version: str, requires: Iterable[str] = (),
                **options: object) -> GenRelease:
        """Add a release (options as `GenRelease`'s fields); returns it."""
        rel = GenRelease(name, version, tuple(requires), **options)  # type: ignore[arg-type]
        self.releases.append(rel)
        if name != rel.project:
            self.display_names[name] = rel.project
        return rel

    def root(self, *requirements: str) -> None:
        """Add root requirement strings."""
        self.roots.extend(requirements)

    def _materialize(self, rel: GenRelease) -> None:
        extras = sorted({e for r in rel.requires for e in _extras_named(r)})
        meta = core_metadata(rel.name, rel.version, rel.requires,
                             requires_python=rel.requires_python, extras=extras)
        rel.metadata = meta
        payload = hashlib.shake_256(f"{self.seed}:{rel.key}".encode()).digest(rel.payload) \
            if rel.payload else b""
        if rel.wheel:
            rel.files[wheel_filename(rel.name, rel.version)] = make_wheel(
                rel.name, rel.version, meta, payload=payload)
        if rel.sdist:
            pkg = core_metadata(rel.name, rel.version, rel.requires,
                                metadata_version=rel.sdist_metadata_version,
                                requires_python=rel.requires_python, extras=extras,
                                dynamic=("Requires-Dist",) if rel.dynamic_requires else ())
            rel.files[f"{dist_name(rel.name)}-{rel.version}.tar.gz"] = make_sdist(
                rel.name, rel.version, pkg)

    def build(self) -> PyPIRepo:
        """Generate the files and compute ``expected``."""
        from stagekit.testing.pypi_answer import answer

        files: dict[str, StaticFile] = {}
        by_project: dict[str, list[GenRelease]] = {}
        for rel in self.releases:
            self._materialize(rel)
            by_project.setdefault(rel.project, []).append(rel)
            for filename, body in rel.files.items():
                files[f"packages/{rel.project}/{filename}"] = StaticFile(body)
                if filename.endswith(".whl") and self.metadata_files:
                    files[f"packages/{rel.project}/{filename}.metadata"] = StaticFile(
                        rel.metadata, "text/plain; charset=utf-8")
        for project, releases in by_project.items():
            files[f"simple/{project}/"] = self._page(project, releases)
        files["simple/"] = self._index(sorted(by_project))
        repo = PyPIRepo(files, self.releases, list(self.roots), dict(self.display_names))
        answer(repo, environment=self.environment, prereleases=self.prereleases,
               metadata_files=self.metadata_files)
        return repo

    def _serve(self, html_body: str, json_body: Mapping[str, object]) -> StaticFile:
        h = StaticFile(html_body.encode(), HTML_TYPE)
        j = StaticFile(json.dumps(json_body, sort_keys=True).encode(), JSON_TYPE)
        if self.formats == "html":
            return h
        if self.formats == "json":
            return j
        return StaticFile(h.body, h.content_type, variants=(j,))

    def _index(self, projects: list[str]) -> StaticFile:
        links = "".join(f'<a href="{p}/">{p}</a>\n' for p in projects)
        page = ('<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" '
                f'content="1.1"><title>Simple index</title></head><body>\n{links}</body></html>\n')
        data = {"meta": {"api-version": "1.1"}, "projects": [{"name": p} for p in projects]}
        return self._serve(page, data)

    def _page(self, project: str, releases: list[GenRelease]) -> StaticFile:
        anchors: list[str] = []
        entries: list[dict[str, object]] = []
        for rel in releases:
            for filename, body in rel.files.items():
                sha = _sha256(body)
                href = f"../../packages/{project}/{filename}"
                attrs = [f'href="{href}#sha256={sha}"']
                entry: dict[str, object] = {"filename": filename, "url": href,
                                            "hashes": {"sha256": sha}, "size": len(body)}
                if rel.requires_python:
                    attrs.append(f'data-requires-python="{html.escape(rel.requires_python)}"')
                    entry["requires-python"] = rel.requires_python
                if rel.yanked is not None:
                    attrs.append(f'data-yanked="{html.escape(rel.yanked)}"')
                    entry["yanked"] = rel.yanked or True
                if filename.endswith(".whl") and self.metadata_files:
                    msha = _sha256(rel.metadata)
                    attrs.append(f'data-core-metadata="sha256={msha}"')
                    attrs.append(f'data-dist-info-metadata="sha256={msha}"')
                    entry["core-metadata"] = {"sha256": msha}
                    entry["dist-info-metadata"] = {"sha256": msha}
                anchors.append(f'<a {" ".join(attrs)}>{filename}</a><br>\n')
                entries.append(entry)
        page = ('<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" '
                f'content="1.1"><title>Links for {project}</title></head><body>\n'
                f'<h1>Links for {project}</h1>\n{"".join(anchors)}</body></html>\n')
        versions = sorted({r.version for r in releases})
        data = {"meta": {"api-version": "1.1"}, "name": project, "files": entries,
                "versions": versions}
        return self._serve(page, data)


def _extras_named(requirement: str) -> list[str]:
    """Extras a Requires-Dist line is conditional on (``extra == "x"`` in its marker)."""
    import re

    return re.findall(r"""extra\s*==\s*["']([^"']+)["']""", requirement)


def expected_artifacts(rel: GenRelease, *, metadata_files: bool,
                       files: Iterable[str]) -> list[ExpectedArtifact]:
    """The artifacts an explorer declares for ``rel``: .metadata (fetched), files (deferred)."""
    out: list[ExpectedArtifact] = []
    wheels = [f for f in files if f.endswith(".whl")]
    if metadata_files and wheels:
        out.append(ExpectedArtifact(f"{rel.project}/{wheels[0]}.metadata", _sha256(rel.metadata),
                                    len(rel.metadata), f"packages/{rel.project}/{wheels[0]}"
                                    ".metadata"))
    for filename in files:
        body = rel.files[filename]
        out.append(ExpectedArtifact(f"{rel.project}/{filename}", _sha256(body), len(body),
                                    f"packages/{rel.project}/{filename}", deferred=True))
    return out


def make_pypi_repo(*, n_releases: int = 0, depth: int = 6, fanout: int = 4, versions: int = 2,
                   payload: int = 0, markers: bool = False, extras: bool = False,
                   cycle: bool = False, yanked: bool = False, prereleases: bool = False,
                   requires_python: bool = False, supersede: bool = False,
                   conflict: bool = False, sdists: bool = False, formats: Formats = "both",
                   metadata_files: bool = True, environment: Mapping[str, str] | None = None,
                   seed: int = 0) -> PyPIRepo:
    """An index of the chosen scenarios (see `stagekit.testing.pypi_scenarios`) and, when
    ``n_releases`` > 0, a random tree of that many releases under root ``tree-0``."""
    from stagekit.testing import pypi_scenarios as sc

    b = PyPIRepoBuilder(formats=formats, metadata_files=metadata_files,
                        environment=environment, seed=seed)
    if n_releases > 0:
        sc.add_tree(b, n_releases, depth=depth, fanout=fanout, versions=versions,
                    payload=payload, seed=seed)
    for wanted, add in ((markers, sc.add_markers), (extras, sc.add_extras),
                        (cycle, sc.add_cycle), (yanked, sc.add_yanked),
                        (prereleases, sc.add_prereleases),
                        (requires_python, sc.add_requires_python), (supersede, sc.add_supersede),
                        (conflict, sc.add_conflict), (sdists, sc.add_sdists)):
        if wanted:
            add(b)
    return b.build()


def all_scenarios(**kw: object) -> PyPIRepo:
    """Every scenario in one index."""
    return make_pypi_repo(markers=True, extras=True, cycle=True, yanked=True, prereleases=True,
                          requires_python=True, supersede=True, conflict=True, sdists=True,
                          **kw)  # type: ignore[arg-type]
