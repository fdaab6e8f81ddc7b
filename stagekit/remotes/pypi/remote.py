"""`PyPIRemote`: explore the dependency tree of Python requirements on a simple index.

Each release chosen is a `PyPIRelease` unit with its PEP 658 ``.metadata`` file (fetched:
discovery reads Requires-Dist from it) and its distribution files (deferred). A saved
release's children are the releases its requirements lead to, in the run's environment
and with the extras it is reached with. Which release a requirement leads to is kept by a
`Fixpoint` (the newest version satisfying every live requirement of the project; no
backtracking: conflicts are reported): when a later requirement narrows a project, the
requirements naming it are re-pointed (new edges are declared under their requirers with
`RunContext.declare`) and the release no longer chosen stops counting, with whatever only
it required. So the chosen releases, their edges and depths do not depend on the order in
which requirements arrive; the releases that stopped counting stay in the graph, marked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from stagekit.context import RunContext
from stagekit.errors import ConfigurationError, MetadataError, StagekitError, UnitFailedError
from stagekit.models import Content, DeclarativeContent
from stagekit.options import OnError
from stagekit.remote import HTTPRemote, check_remote_url
from stagekit.remotes.pypi.choose import (
    choose_version,
    environment,
    followed,
    parse_requirement,
    usable_files,
)
from stagekit.remotes.pypi.client import IndexClient
from stagekit.remotes.pypi.coremeta import CoreMetadata, parse_core_metadata
from stagekit.remotes.pypi.fixpoint import ROOT, Fixpoint
from stagekit.remotes.pypi.release import (
    FileFilter,
    PyPIRelease,
    declare_artifacts,
    select_files,
)
from stagekit.remotes.pypi.simple import DistFile, ProjectPage
from stagekit.remotes.pypi.state import ReleaseState, RunState, annotate_frame
from stagekit.urls import redact_url

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PyPIRelease", "PyPIRemote"]

log = logging.getLogger(__name__)


def _unresolved(req: Requirement) -> PyPIRelease:
    """The unit a requirement that led to no release is reported as."""
    return PyPIRelease(canonicalize_name(req.name), str(req.specifier) or "*")


def _unmet(req: Requirement, requirer: str, cause: StagekitError) -> UnitFailedError:
    """The error of a requirement that led to no release, naming it, its requirer, the URL."""
    unit = _unresolved(req)
    error = UnitFailedError(f"{unit.key}: requirement {str(req)!r} of {requirer} leads to no "
                            f"release: {cause}", unit_key=unit.key,
                            url=getattr(cause, "url", None))
    error.__cause__ = cause
    return error


def _consume(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


class PyPIRemote(HTTPRemote):
    """Explore from ``roots`` (requirement strings) on the simple index at ``index_url``.

    ``environment``: PEP 508 marker variables overriding the running interpreter's (its
    ``python_full_version`` also decides Requires-Python). ``prereleases``: allow them
    everywhere (else as pip does). ``include_sdists``: whether sdists count as releases'
    files (a version with only sdists is then still a candidate). ``files``: which files of
    a release to declare, ``"all"``, ``"install"`` (the one pip would use here) or a
    callable on `DistFile`.
    """

    distributable = False  # the chosen versions (`Fixpoint`) are state across units

    def __init__(
        self,
        index_url: str,
        roots: Iterable[str] | str,
        *,
        environment: Mapping[str, str] | None = None,
        prereleases: bool = False,
        include_sdists: bool = True,
        files: FileFilter = "all",
        max_depth: int | None = None,
        on_error: OnError | None = None,
    ) -> None:
        if not isinstance(index_url, str) or not index_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"index_url must be an http(s) URL, got "
                                     f"{redact_url(str(index_url))!r}")
        index_url = check_remote_url(index_url, "index_url")
        super().__init__(index_url, max_depth=max_depth, on_error=on_error)
        self.index_url = index_url if index_url.endswith("/") else index_url + "/"
        self.root_specs = [roots] if isinstance(roots, str) else list(roots)
        self.environment = dict(environment or {})
        self.prereleases = prereleases
        self.include_sdists = include_sdists
        if not callable(files) and files not in ("all", "install"):
            raise ConfigurationError(f"files must be 'all', 'install' or a callable, got {files!r}")
        self.files = files
        self._state: RunState | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_state"] = None
        return state

    def describe(self) -> str:
        """The remote as shown in the catalog."""
        return f"pypi {redact_url(self.index_url)} {' '.join(self.root_specs)}"

    # -- the run ------------------------------------------------------------------

    async def open(self, ctx: RunContext) -> None:
        """Make the run's index client and requirement fixpoint (kept for `annotate`)."""
        env = environment(self.environment)

        async def get(url: str, headers: Mapping[str, str] | None,
                      max_size: int | None) -> tuple[bytes, Mapping[str, str]]:
            return await ctx.downloader.get_bytes(url, headers=headers, max_size=max_size)

        async def get_page(url: str, headers: Mapping[str, str] | None,
                           max_size: int | None) -> tuple[bytes, str, Mapping[str, str]]:
            page = await ctx.downloader.get_page(url, headers=headers, max_size=max_size)
            return page.body, page.url, page.headers

        python = env["python_full_version"]

        def choose(page: ProjectPage, spec: SpecifierSet) -> Version | None:
            return choose_version(page, spec, python_version=python,
                                  prereleases=self.prereleases,
                                  include_sdists=self.include_sdists)

        self._state = RunState(IndexClient(self.index_url, get, get_page),
                               Fixpoint(choose, lambda n, v: PyPIRelease(n, v).key, env),
                               env, python)

    async def close(self) -> None:
        """Drop page and metadata fetches nobody awaits (the answers stay for `annotate`)."""
        state = self._state
        if state is None:
            return
        running = [r.metadata for r in state.releases.values()
                   if r.metadata is not None and not r.metadata.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await state.client.aclose()
        state.fixpoint.finish()

    # -- roots and children -------------------------------------------------------

    async def roots(self, ctx: RunContext) -> AsyncIterator[DeclarativeContent]:
        """One release per root requirement whose marker holds."""
        state = self._state
        assert state is not None
        reqs: list[tuple[int, Requirement]] = []
        for i, text in enumerate(self.root_specs):
            try:
                req = parse_requirement(text, "root")
            except MetadataError as exc:
                ctx.fail(exc, key=f"pypi.release:{text}", kind=PyPIRelease.kind)
                continue
            if followed(req, state.env, ()):
                reqs.append((i, req))
        for (i, req), (page, error) in zip(
                reqs, await self._pages([r.name for _i, r in reqs]), strict=True):
            if error is not None:
                ctx.fail(_unmet(req, ROOT, error), unit=_unresolved(req))
                continue
            assert page is not None
            state.fixpoint.page(page)
            state.fixpoint.root(i, req)
        async for dc in self._settle(ctx, ROOT):
            yield dc

    async def discover(self, ctx: RunContext, unit: Content,
                       dc: DeclarativeContent) -> AsyncIterator[DeclarativeContent]:
        """The releases the requirements of ``unit`` lead to, and any release that
        requirements of other units are re-pointed at because of them (`RunContext.declare`).

        Raises `MetadataError` naming the release after yielding the rest when a
        Requires-Dist line is malformed, or when its metadata cannot be read.
        """
        state = self._state
        assert isinstance(unit, PyPIRelease) and state is not None
        ident = (unit.name, unit.version)
        rel = state.releases.get(ident)
        if rel is None:  # declared by an earlier run only
            return
        state.dcs[unit.key] = dc
        rel.artifacts = None  # the engine has it: later links need no artifacts
        if rel.metadata is None:
            rel.metadata = asyncio.get_running_loop().create_task(self._metadata(unit, dc, rel))
            rel.metadata.add_done_callback(_consume)
        metadata = await asyncio.shield(rel.metadata)
        problems: list[StagekitError] = []
        requires: list[Requirement | None] = []
        if metadata.requires_dist is None:
            if not rel.unknown:
                rel.unknown = True
                log.info("%s: dependencies unknown (sdist metadata is not static)", unit.key)
        else:
            for line in metadata.requires_dist:
                try:
                    requires.append(parse_requirement(line, f"{unit.key} Requires-Dist"))
                except MetadataError as exc:
                    requires.append(None)
                    problems.append(exc)
        fp = state.fixpoint
        fp.metadata(unit.name, unit.version, requires)
        # Its own pages first (shared with whoever asks them too), so that it settles at once.
        names: list[str] = sorted({canonicalize_name(r.name) for r in
                                   fp.followed_now(unit.name, unit.version)} - fp.known_pages())
        if names:
            await self._fetch_pages(ctx, names)
        async for child in self._settle(ctx, unit.key):
            yield child
        if problems:
            text = "; ".join(str(p) for p in problems)
            raise MetadataError(text, field="Requires-Dist")

    async def _settle(self, ctx: RunContext, current: str) -> AsyncIterator[DeclarativeContent]:
        """Bring the fixpoint up to date (fetching the pages it waits for) and put what it
        leads to: ``current``'s children are yielded, other requirers' are declared."""
        state = self._state
        assert state is not None
        fp = state.fixpoint
        while True:
            # A page another exploration is fetching is not awaited here: that one gives
            # it to the fixpoint and settles what waited for it (with `ctx.declare`).
            wanted = self._orphans()
            if wanted:
                await self._fetch_pages(ctx, wanted)
            edges, unmet = fp.settle()
            for need in unmet:
                page = fp.projects[need.project].page
                assert page is not None
                error = MetadataError(
                    f"{redact_url(page.url)}: no release of {page.name} matches {need.req} "
                    f"(python {state.python_version})", url=redact_url(page.url),
                    field="version")
                parent = None if need.requirer == ROOT else state.dcs.get(need.requirer)
                ctx.fail(_unmet(need.req, need.requirer, error), unit=_unresolved(need.req),
                         parent=parent, relation=None if parent is None else str(need.req))
            for edge in edges:
                page = fp.projects[edge.project].page
                assert page is not None
                problems: list[StagekitError] = []
                child = self._declare(page, edge.version, edge.req, edge.requirer, problems)
                parent = None if edge.requirer == ROOT else state.dcs.get(edge.requirer)
                if child is None:
                    ctx.fail(_unmet(edge.req, edge.requirer, problems[0]),
                             unit=_unresolved(edge.req), parent=parent,
                             relation=None if parent is None else str(edge.req))
                elif edge.requirer == current:
                    yield child
                else:
                    ctx.declare(child, parent=parent)
            if not fp.has_new_waits():
                return

    def _orphans(self) -> list[str]:
        """Pages requirements started waiting for that no exploration is fetching (whoever
        fetches a page gives it, or its failure, to the fixpoint)."""
        state = self._state
        assert state is not None
        return sorted(name for name in state.fixpoint.new_waits()
                      if not state.client.fetching(name))

    async def _fetch_pages(self, ctx: RunContext, names: list[str]) -> None:
        """Fetch project pages and give them to the fixpoint; a page that cannot be had
        fails every requirement waiting for it."""
        state = self._state
        assert state is not None
        fp = state.fixpoint
        for (page, error), name in zip(await self._pages(names), names, strict=True):
            if page is not None:
                fp.page(page)
                continue
            assert error is not None
            for requirer, index, req in fp.waiting_on(name):
                fp.drop(requirer, index)
                ctx.fail(_unmet(req, requirer, error), unit=_unresolved(req),
                         parent=state.dcs.get(requirer), relation=str(req))
            fp.page_failed(name)

    async def _pages(self, names: list[str]) -> list[
        tuple[ProjectPage | None, StagekitError | None]
    ]:
        state = self._state
        assert state is not None
        results = await asyncio.gather(*(state.client.page(n) for n in names),
                                       return_exceptions=True)
        out: list[tuple[ProjectPage | None, StagekitError | None]] = []
        for result in results:
            if isinstance(result, StagekitError):
                out.append((None, result))
            elif isinstance(result, BaseException):
                raise result
            else:
                out.append((result, None))
        return out

    def _declare(self, page: ProjectPage, version: Version, req: Requirement, requirer: str,
                 problems: list[StagekitError]) -> DeclarativeContent | None:
        """The unit of ``version`` of ``page``; a bare link when it was declared before."""
        state = self._state
        assert state is not None
        unit = PyPIRelease(page.name, str(version))
        ident = (unit.name, unit.version)
        relation = None if requirer == ROOT else str(req)
        known = state.releases.get(ident)
        if known is not None:  # the engine links it (put once, whichever arrives first)
            return DeclarativeContent(unit, known.artifacts or (), relation=relation)
        files = self._files_of(page, version)
        try:
            artifacts, meta_file = declare_artifacts(page.name, files,
                                                     select_files(files, self.files))
        except (StagekitError, ValueError) as exc:  # a page that lies about paths or digests
            problems.append(MetadataError(f"{redact_url(page.url)}: files of {unit.key} cannot "
                                          f"be declared: {exc}", url=redact_url(page.url),
                                          field="files"))
            return None
        python = next((f.requires_python for f in files if f.requires_python), None)
        state.releases[ident] = ReleaseState(files, meta_file, python, artifacts)
        return DeclarativeContent(unit, artifacts, relation=relation)

    def _files_of(self, page: ProjectPage, version: Version) -> list[DistFile]:
        state = self._state
        assert state is not None
        files = page.by_version().get(version, [])
        python = state.python_version
        usable = usable_files(files, python, include_sdists=self.include_sdists)
        return usable or usable_files(files, python, include_sdists=self.include_sdists,
                                      yanked=True)

    async def _metadata(self, unit: PyPIRelease, dc: DeclarativeContent,
                        rel: ReleaseState) -> CoreMetadata:
        """The release's core metadata: .metadata file, else wheel, else sdist."""
        state = self._state
        assert state is not None
        if rel.metadata_file is not None:
            path = f"{unit.name}/{rel.metadata_file.filename}.metadata"
            stored = dc.artifacts.get(path)
            if stored is not None:
                # A metadata file is a few KB: a thread hop costs more than the read.
                data = (stored.read_bytes() if stored.size < 256 * 1024
                        else await asyncio.to_thread(stored.read_bytes))
                return parse_core_metadata(data, redact_url(rel.metadata_file.metadata_url))
        wheel = next((f for f in rel.files if f.is_wheel), None)
        if wheel is not None:
            return await state.client.wheel_metadata(wheel)
        sdist = next((f for f in rel.files if not f.is_wheel), None)
        if sdist is None:
            raise MetadataError(f"{unit.key}: no file to read metadata from", field="files")
        return await state.client.sdist_metadata(sdist)

    # -- results ------------------------------------------------------------------

    def annotate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add ``name``, ``version``, ``requirement`` (what chose it), ``requires_python``,
        ``dependencies_known``, ``chosen``, ``chosen_depth``, ``superseded_by`` and
        ``conflict`` (see `annotate_frame`)."""
        return annotate_frame(frame, self._state)
