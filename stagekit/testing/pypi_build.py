"""`PyPIRepoBuilder`: releases and roots in, a served index (pages, files) and its answer out."""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterable, Mapping

from stagekit.testing.pypi_answer import answer
from stagekit.testing.pypi_dists import (
    core_metadata,
    dist_name,
    make_sdist,
    make_wheel,
    wheel_filename,
)
from stagekit.testing.pypi_repo import (
    HTML_TYPE,
    JSON_TYPE,
    Formats,
    GenRelease,
    PyPIRepo,
)
from stagekit.testing.repo import StaticFile

__all__ = ["PyPIRepoBuilder"]


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
    return re.findall(r"""extra\s*==\s*["']([^"']+)["']""", requirement)

