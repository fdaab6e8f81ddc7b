"""The data of a generated Python package index: its releases, the repo, the answer's parts.

See `stagekit.testing.pypi` for the whole; `PyPIRepoBuilder` (in ``pypi_build``) makes one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from stagekit.testing.repo import ExpectedArtifact, Repo, StaticFile

if TYPE_CHECKING:
    from aiohttp import web

    from stagekit.testing.pypi_fixpoint import Chosen

__all__ = ["HTML_TYPE", "JSON_TYPE", "Formats", "GenRelease", "PyPIRepo",
           "expected_artifacts", "normalize"]

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "text/html; charset=utf-8"
Formats = Literal["both", "html", "json"]


def normalize(name: str) -> str:
    """PEP 503 normalized name."""
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
        #: The chosen releases alone (the same in any order of arrival): a `Chosen`.
        self.chosen: Chosen | None = None
        #: Extra redirects a test adds: request path -> target path (both without "/").
        self.redirects: dict[str, str] = {}

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
        for path, goal in self.redirects.items():
            async def moved(request: web.Request, goal: str = goal) -> web.Response:
                raise web.HTTPFound(f"/{goal}")

            app.router.add_get(f"/{path}", moved)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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

