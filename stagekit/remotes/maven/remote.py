"""`MavenRemote`: explore a Maven 2 repository from root POMs to unknown depth.

Each POM is a `MavenPom` unit with its ``.pom`` (fetched: discovery reads it) and its main
artifact (deferred). A saved POM's children are its parent, the BOMs its model imports
and its dependencies in the chosen scopes, with versions from dependencyManagement along
the parent chain and imported BOMs and ``${...}`` interpolated (`PomResolver`).

Order of work: a child's POM is fetched and verified while its parent is explored (the
packaging decides its main artifact), all children of a POM at once; the fetched POM
feeds the resolver and the pipeline (see `stagekit.remotes.maven.pomfiles`), so each POM
costs one request when its answer carries a checksum header, else one more for its
sidecar (`stagekit.remotes.maven.checksums`).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stagekit.context import RunContext
from stagekit.errors import (
    DownloadError,
    LimitExceededError,
    MetadataError,
    StagekitError,
    UnsafePathError,
)
from stagekit.limits import limits_of
from stagekit.models import (
    Content,
    DeclarativeArtifact,
    DeclarativeContent,
    safe_relative_path,
)
from stagekit.options import OnError
from stagekit.remote import HTTPRemote, check_remote_url
from stagekit.remotes.completion import retrieve_exception
from stagekit.remotes.maven.checksums import check_algorithms, check_mode
from stagekit.remotes.maven.children import Child, children_of, revisit_exclusions
from stagekit.remotes.maven.coords import Coordinates, artifact_path, metadata_path, pom_path
from stagekit.remotes.maven.effective import EffectivePom
from stagekit.remotes.maven.metadata import pick_version
from stagekit.remotes.maven.pomfiles import PomFiles
from stagekit.remotes.maven.resolver import PomResolver
from stagekit.remotes.maven.sidecars import Sidecars
from stagekit.remotes.maven.waiting import settled
from stagekit.urls import redact_url

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MavenPom", "MavenRemote"]

log = logging.getLogger(__name__)

Exclusions = frozenset[tuple[str, str]]
# Parents and BOMs are nearly always pom-packaged: do not guess a jar sidecar for them.
_MODEL_RELATIONS = ("parent", "import")


@dataclass(frozen=True, slots=True)
class MavenPom(Content):
    """One POM of a Maven repository, keyed by ``groupId:artifactId:version``."""

    kind = "maven.pom"
    group: str
    artifact: str
    version: str

    def natural_key(self) -> tuple[str, str, str]:
        """A POM is its coordinates."""
        return (self.group, self.artifact, self.version)

    @property
    def coords(self) -> Coordinates:
        """The unit's `Coordinates`."""
        return Coordinates(self.group, self.artifact, self.version)


@dataclass(frozen=True, slots=True)
class _Recipe:
    """What a unit declares once its POM was read (shared by every path reaching it)."""

    pom_digests: dict[str, str]
    main_path: str | None
    main_digests: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Found:
    """A child ready to be yielded: which POM, why, with which exclusions."""

    coords: Coordinates
    relation: str | None
    exclusions: Exclusions
    recipe: _Recipe | None  # None: already declared by another path



def _parse_root(text: str) -> tuple[str, str, str | None]:
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise MetadataError(f"root {text!r} is not groupId:artifactId[:version]", field="root")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def _combine(url: str, problems: Sequence[StagekitError]) -> StagekitError:
    if len(problems) == 1:
        return problems[0]
    shown = 10  # a POM may have 50,000 bad dependencies: keep the message readable
    text = "; ".join(str(p) for p in problems[:shown])
    if len(problems) > shown:
        text += f"; and {len(problems) - shown} more"
    return MetadataError(f"{len(problems)} problems in {url}: {text}", url=url,
                         field=getattr(problems[0], "field", None))


class MavenRemote(HTTPRemote):
    """Discover POMs from ``roots`` (``"g:a:v"``, or ``"g:a"`` resolved via maven-metadata.xml).

    ``scopes`` are the dependency scopes followed; optional dependencies only with
    ``include_optional``. ``checksums`` says where a POM's expected digest comes from
    (`stagekit.remotes.maven.checksums`): ``"header-or-sidecar"`` (default; the
    ``X-Checksum-*`` or ``{SHA1{...}}`` ``ETag`` header of its answer, else its sidecar),
    ``"sidecar"`` (always the sidecar, as Maven does) or ``"ignore"``. ``algorithms`` are
    the digests looked for (sha1 only by default: Maven always publishes it, and each
    sidecar costs a request). A file without either is stored unverified, not failed.
    A main artifact the pipeline downloads is checked against its sidecar.
    """

    def __init__(
        self,
        url: str,
        roots: Iterable[str],
        *,
        scopes: Iterable[str] = ("compile", "runtime"),
        include_optional: bool = False,
        checksums: str | Iterable[str] = "header-or-sidecar",
        algorithms: Iterable[str] = ("sha1",),
        max_depth: int | None = None,
        on_error: OnError | None = None,
    ) -> None:
        url = check_remote_url(url)
        super().__init__(url, max_depth=max_depth, on_error=on_error)
        self.base_url = url if url.endswith("/") else url + "/"
        self.root_specs = [roots] if isinstance(roots, str) else list(roots)
        self.scopes = tuple(scopes)
        self.include_optional = include_optional
        if not isinstance(checksums, str):  # round-2 spelling: the sidecar algorithms
            warnings.warn("MavenRemote(checksums=<algorithms>) is deprecated: use "
                          "algorithms=... with checksums='sidecar' (or 'ignore' for none)",
                          DeprecationWarning, stacklevel=2)
            algorithms = tuple(checksums)
            checksums = "sidecar" if algorithms else "ignore"
        self.checksums = check_mode(checksums)
        self.algorithms = check_algorithms(algorithms)
        # Per-run state, made in open() and dropped in close().
        self._ctx: RunContext | None = None
        self.files: PomFiles | None = None
        self.resolver: PomResolver | None = None

    def describe(self) -> str:
        """The remote as shown in the catalog."""
        return f"maven {redact_url(self.base_url)} {' '.join(self.root_specs)}"

    # -- the run ------------------------------------------------------------------

    async def open(self, ctx: RunContext) -> None:
        """Make the run's POM cache and resolver; learn which POMs earlier runs saved."""
        self._ctx = ctx
        self.sidecars = Sidecars(self._get, self.algorithms)
        self.files = PomFiles(self.base_url, self.sidecars, get_response=self._get_response,
                              checksums=self.checksums,
                              temp_dir=getattr(ctx.downloader, "temp_dir", None),
                              max_size=limits_of(ctx.downloader).metadata_bytes,
                              stored=lambda coords: self._stored(coords)[1])
        self.resolver = PomResolver(self.files.data, self.base_url,
                                    fetch_metadata=self._fetch_metadata,
                                    limits=limits_of(ctx.downloader), ready=self.files.ready)
        self._claimed: set[Coordinates] = set()
        self._recipes: dict[Coordinates, asyncio.Task[_Recipe]] = {}
        self._saved_before: set[str] = (
            await asyncio.to_thread(ctx.store.catalog.complete_keys, MavenPom.kind)
            if ctx.store is not None else set()
        )

    async def close(self) -> None:
        """Drop what is left of the run (fetches, POMs no unit took)."""
        running = [t for t in self._recipes.values() if not t.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        if self.resolver is not None:
            await self.resolver.aclose()
        if self.files is not None:
            await self.files.aclose()
        self._ctx = self.files = self.resolver = None
        self._recipes = {}

    @property
    def _run(self) -> RunContext:
        assert self._ctx is not None, "MavenRemote is not in a run"
        return self._ctx

    async def _get(self, url: str) -> bytes:
        return await self._run.get_bytes(url)

    async def _get_response(self, url: str) -> tuple[bytes, Mapping[str, str]]:
        return await self._run.downloader.get_bytes(url)

    async def _fetch_metadata(self, group: str, artifact: str) -> bytes:
        return await self._run.get_bytes(self.base_url + metadata_path(group, artifact))

    # -- roots and children -------------------------------------------------------

    async def roots(self, ctx: RunContext) -> AsyncIterator[DeclarativeContent]:
        """The root POMs, each fetched (with its sidecars) before it is put."""
        tasks: list[tuple[asyncio.Future[Any], str]] = []
        for text in self.root_specs:
            try:
                group, artifact, version = _parse_root(text)
            except MetadataError as exc:
                ctx.fail(exc, key=f"maven.pom:{text}", kind=MavenPom.kind)
                continue
            tasks.append((self._spawn_local(self._root(group, artifact, version)), text))
        async for text, found, error in self._settled(tasks, [t for t, _ in tasks]):
            if error is not None:
                ctx.fail(error, key=f"maven.pom:{text}", kind=MavenPom.kind)
            else:
                yield self._declare(found)

    async def _root(self, group: str, artifact: str, version: str | None) -> _Found:
        if version is None:
            assert self.resolver is not None
            meta = await self.resolver.metadata(group, artifact)
            version = await asyncio.to_thread(pick_version, meta) if len(meta.versions) > 1000 \
                else pick_version(meta)
            if version is None:
                raise MetadataError(f"{meta.url}: lists no version of {group}:{artifact}",
                                    url=meta.url, field="versioning")
        coords = Coordinates(group, artifact, version)
        return _Found(coords, None, frozenset(), await self._recipe(coords, guess_jar=True))

    async def discover(
        self, ctx: RunContext, unit: Content, dc: DeclarativeContent
    ) -> AsyncIterator[DeclarativeContent]:
        """The parent, imported BOMs and followed dependencies of a saved POM.

        Raises `MetadataError` naming the POM URL and the element when the model cannot
        be built or a followed dependency cannot be resolved (after yielding the rest).
        """
        assert isinstance(unit, MavenPom) and self.resolver is not None
        assert self.files is not None
        coords = unit.coords
        url = self.files.url_of(coords)
        if self.files.failed(coords):
            stored = dc.artifacts.get(pom_path(coords))
            if stored is not None:
                self.files.seed(coords, stored.read_bytes())
        problems: list[StagekitError] = []
        try:
            effective = await self.resolver.effective(coords)
        except StagekitError as exc:
            problems.append(await self._model_error(coords, url, exc))
            # Past a limit (a 2,000-long parent chain) the chain is not walked on as units.
            kids = [] if isinstance(exc, LimitExceededError) else await self._raw_parent(coords)
        else:
            exclusions = dc.extra_data.get("exclusions", frozenset())
            kids = self._follow(effective, exclusions, problems) \
                if len(effective.dependencies) < 1000 else \
                await asyncio.to_thread(self._follow, effective, exclusions, problems)
        waits: list[tuple[asyncio.Future[Any], Child]] = []
        owned: list[asyncio.Future[Any]] = []
        for kid in kids:
            if kid.is_range:
                owned.append(self._spawn_local(self._child(kid, url)))
                waits.append((owned[-1], kid))
            elif kid.coords in self._claimed:
                # Declared already (so its path was checked): a bare link, no task.
                yield self._declare(_Found(kid.coords, kid.relation, kid.exclusions, None))
            else:
                try:
                    self._check_path(kid, url)
                except MetadataError as exc:
                    problems.append(exc)
                    continue
                recipe = self._recipe_task(kid.coords, kid.relation not in _MODEL_RELATIONS)
                if recipe.done() and not recipe.cancelled() and recipe.exception() is None:
                    yield self._declare(self._found(kid, recipe.result()))
                else:  # the shared recipe itself: a callback per edge, no task
                    waits.append((recipe, kid))
        async for kid, result, error in self._settled(waits, owned):
            if error is not None:
                problems.append(error)
            else:
                yield self._declare(result if isinstance(result, _Found)
                                    else self._found(kid, result))
        if problems:
            raise _combine(url, problems)

    def _follow(self, effective: EffectivePom, exclusions: Exclusions,
                problems: list[StagekitError]) -> list[Child]:
        """`children_of`, leaving out (and recording) each dependency it cannot follow."""
        found: list[MetadataError] = []
        kids = children_of(effective, scopes=self.scopes, include_optional=self.include_optional,
                           exclusions=exclusions, problems=found)
        problems.extend(found)
        return kids

    async def _raw_parent(self, coords: Coordinates) -> list[Child]:
        """The parent named by a POM whose model failed, so the graph still shows it."""
        assert self.resolver is not None
        try:
            raw = await self.resolver.raw(coords)
        except StagekitError:
            return []
        p = raw.parent
        if p is None or not (p.group and p.artifact and p.version):
            return []
        if "${" in p.group + p.artifact + p.version:
            return []
        return [Child(Coordinates(p.group, p.artifact, p.version), "parent")]

    async def _model_error(self, coords: Coordinates, url: str,
                           exc: StagekitError) -> StagekitError:
        """``exc`` as an error of the POM at ``url``, naming the element that led to it."""
        failing = getattr(exc, "url", None)
        if isinstance(exc, MetadataError) and failing == url:
            return exc
        element = "parent or import"
        assert self.resolver is not None
        try:
            raw = await self.resolver.raw(coords)
        except StagekitError:
            raw = None
        if raw is not None and failing:
            p = raw.parent
            if p is not None and p.artifact and f"/{p.artifact}/" in failing:
                element = "parent"
            for entry in raw.management:
                if entry.scope == "import" and entry.artifact and f"/{entry.artifact}/" in failing:
                    element = entry.where
                    break
        what = "cannot be read" if isinstance(exc, DownloadError) else "is not usable"
        error = MetadataError(f"{url}: {element} POM {failing or ''} {what}: {exc}",
                              url=url, field=element)
        error.__cause__ = exc
        return error

    @staticmethod
    def _check_path(kid: Child, url: str) -> None:
        try:  # coordinates become URL paths: refuse '..', '/x', '\\' before any request
            safe_relative_path(pom_path(kid.coords), what=f"layout path of {kid.coords}")
        except UnsafePathError as exc:
            raise MetadataError(f"{url}: {kid.relation} {kid.coords}: {exc}", url=url,
                                field=kid.relation) from None

    def _found(self, kid: Child, recipe: _Recipe) -> _Found:
        """``kid`` ready to declare (a bare link if another path declared it meanwhile)."""
        if kid.coords in self._claimed:
            return _Found(kid.coords, kid.relation, kid.exclusions, None)
        return _Found(kid.coords, kid.relation, kid.exclusions, recipe)

    async def _child(self, kid: Child, url: str) -> _Found:
        assert self.resolver is not None
        self._check_path(kid, url)
        if kid.is_range:
            try:
                kid = await self.resolver.resolve_child(kid)
            except StagekitError as exc:
                where = f"{kid.relation} {kid.coords}"
                error = MetadataError(f"{url}: {where}: version range {kid.coords.version!r} "
                                      f"cannot be resolved: {exc}", url=url, field="version")
                raise error from exc
        if kid.coords in self._claimed:
            return _Found(kid.coords, kid.relation, kid.exclusions, None)
        recipe = await self._recipe(kid.coords, guess_jar=kid.relation not in _MODEL_RELATIONS)
        return _Found(kid.coords, kid.relation, kid.exclusions, recipe)

    def revisit(self, known: DeclarativeContent,
                found: DeclarativeContent) -> dict[str, Any] | None:
        """The exclusions of both paths intersected, when that lets more children in.

        Exclusions apply per path, and the answer is the union over every path: a POM
        reached again by a path that excludes less is explored again with only what both
        paths exclude. The set only ever shrinks, so the result is the same in any order.
        """
        return revisit_exclusions(known.extra_data, found.extra_data)

    # -- declaring a unit ---------------------------------------------------------

    def _declare(self, found: _Found) -> DeclarativeContent:
        """The unit to yield: complete the first time, a bare link every other time.

        Called right before the yield, with no await in between: the engine registers
        the first unit of a key synchronously, so a bare one can only ever be linked.
        """
        c = found.coords
        unit = MavenPom(c.group, c.artifact, c.version)
        # Every declaration carries its path's exclusions: the engine hands a bare link
        # to `revisit`, which widens the unit's children when this path excludes less.
        extra = {"exclusions": found.exclusions}
        if found.recipe is None or found.coords in self._claimed:
            return DeclarativeContent(unit, extra_data=extra, relation=found.relation)
        self._claimed.add(found.coords)
        recipe = found.recipe
        assert self.files is not None
        rel = pom_path(found.coords)
        pom = DeclarativeArtifact(self.base_url + rel, rel, digests=recipe.pom_digests)
        download = self.files.take_download(found.coords)
        if download is not None:
            pom.download, pom.tries = download, download.tries
        artifacts = [pom]
        if recipe.main_path is not None:
            artifacts.append(DeclarativeArtifact(
                self.base_url + recipe.main_path, recipe.main_path,
                digests=recipe.main_digests, deferred=True))
        return DeclarativeContent(unit, artifacts, extra_data=extra, relation=found.relation)

    async def _recipe(self, coords: Coordinates, *, guess_jar: bool) -> _Recipe:
        task = self._recipe_task(coords, guess_jar)
        return task.result() if task.done() else await asyncio.shield(task)

    def _recipe_task(self, coords: Coordinates, guess_jar: bool) -> asyncio.Task[_Recipe]:
        """The one task preparing the unit of ``coords`` (fetch, verify, read packaging)."""
        task = self._recipes.get(coords)
        if task is None:
            task = self._spawn_local(self._make_recipe(coords, guess_jar))
            self._recipes[coords] = task
        return task

    def _stored(self, coords: Coordinates) -> tuple[_Recipe | None, bytes | None]:
        """The recipe and bytes of a POM an earlier run stored, from the catalog and store.

        A released POM does not change, so what the catalog recorded (digests, main
        artifact and its digests) stands for the sidecars, and nothing is requested.
        """
        store = self._run.store
        if store is None or not self._saved_before:  # a first run: no key to build per POM
            return None, None
        key = MavenPom(coords.group, coords.artifact, coords.version).key
        if key not in self._saved_before:
            return None, None
        row = store.catalog.existing_contents([key]).get(key)
        rel = pom_path(coords)
        pom = (row or {}).get("artifacts", {}).get(rel)
        if row is None or not pom or not pom.get("sha256"):
            return None, None
        try:
            data = store.artifact_path(pom["sha256"]).read_bytes()
        except OSError:
            return None, None
        mains = [(path, a) for path, a in row["artifacts"].items() if path != rel]
        main_path, main = mains[0] if mains else (None, {})
        if (main_path and not main.get("digests") and self._run.policy != "metadata-only"
                and self.checksums != "ignore"):
            return None, None  # recorded by a metadata-only run: ask its sidecar now
        recipe = _Recipe({**(pom.get("digests") or {}), "sha256": pom["sha256"]}, main_path,
                         dict(main.get("digests") or {}))
        return recipe, data

    async def _make_recipe(self, coords: Coordinates, guess_jar: bool) -> _Recipe:
        """Fetch the POM and sidecars (and, guessing a jar, the jar's sidecar) at once."""
        assert self.files is not None and self.resolver is not None
        recipe, data = self._stored(coords)
        if recipe is not None and data is not None:
            self.files.seed(coords, data)
            return recipe
        # Metadata-only records the main artifact without fetching it: its sidecar would
        # be a request per POM for a digest nothing checks in this run.
        lean = self._run.policy == "metadata-only" or self.checksums == "ignore"
        guess = artifact_path(coords, "jar") if guess_jar and not lean else None
        jar_sums = (self._spawn_local(self.sidecars.digests(self.base_url + guess))
                    if guess else None)
        try:
            try:
                pom = await self.files.fetch_here(coords)
            except LimitExceededError:
                raise  # a POM past its cap fails here, not fetched again by the pipeline
            except DownloadError as exc:
                # Declared without a file: the pipeline fetches it and fails the unit (or,
                # after a transient error, saves it and discover() reads it from the store).
                expected = getattr(exc, "expected", "")
                algorithm = getattr(exc, "algorithm", "")
                digests = {algorithm: expected} if expected and algorithm != "size" else {}
                log.debug("POM of %s not fetched ahead: %s", coords, exc)
                return _Recipe(digests, None, {})
            packaging = await self._packaging(coords)
            main = artifact_path(coords, packaging) if packaging else None
            if main is None or lean:
                main_digests: dict[str, str] = {}
            elif main == guess and jar_sums is not None:
                main_digests = await jar_sums
            else:
                main_digests = await self.sidecars.digests(self.base_url + main)
            return _Recipe(pom.digests, main, main_digests)
        finally:
            if jar_sums is not None and not jar_sums.done():
                jar_sums.cancel()

    async def _packaging(self, coords: Coordinates) -> str | None:
        """The POM's packaging (None when the POM does not parse: discover() reports it)."""
        assert self.resolver is not None
        try:
            raw = await self.resolver.raw(coords)
            if raw.packaging is None or "${" not in raw.packaging:
                return raw.packaging or "jar"
            return (await self.resolver.effective(coords)).packaging
        except StagekitError:
            return None

    # -- helpers ------------------------------------------------------------------

    def _spawn_local(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        task.add_done_callback(retrieve_exception)
        return task

    async def _settled(
        self, waits: Sequence[tuple[asyncio.Future[Any], Any]],
        owned: Sequence[asyncio.Future[Any]],
    ) -> AsyncIterator[tuple[Any, Any, StagekitError | None]]:
        """``(label, result, error)`` per future as each finishes (`settled`); an error
        that is not a `StagekitError` is raised."""
        async for label, result, error in settled(waits, owned):
            if error is not None and not isinstance(error, StagekitError):
                raise error
            yield label, result, error

    def annotate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add ``group``, ``artifact``, ``version`` and ``conflict`` (g:a at several versions)."""
        parts = frame["key"].astype("string").str.extract(r"^maven\.pom:([^:]+):([^:]+):(.+)$")
        frame = frame.assign(
            group=parts[0].astype("string"),
            artifact=parts[1].astype("string"),
            version=parts[2].astype("string"),
        )
        ga = frame["group"] + ":" + frame["artifact"]
        versions = frame.groupby(ga, dropna=True)["version"].transform("nunique")
        frame["conflict"] = (versions.fillna(0) > 1).astype(bool)
        return frame
