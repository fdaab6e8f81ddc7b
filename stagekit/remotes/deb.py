"""A Debian archive: InRelease (or Release) -> Packages indexes -> ``.deb`` files.

Units and keys::

    deb.release:<dist>                 depth 0, artifact dists/<dist>/InRelease|Release
      -> deb.packages:<comp>:<arch>    relation "index", artifact the chosen variant
           -> deb.package:<name>:<version>:<arch>   relation "package", the .deb deferred

Design (choosing a Packages variant): the Release lists a sha256 per variant (``.xz``,
``.gz``, plain), so one artifact with the variants as mirrors cannot be verified, and a
unit that failed cannot be retried under the same key. So the release unit's
`discover` picks the variant itself: for each index (concurrently) it fetches the best
listed variant with the run's downloader, which checks its size and sha256 against the
Release, and falls back to the next on a 404 or a mismatch. The verified download is
handed to the pipeline as the index unit's artifact (`prefetched`), which the
`ArtifactSaver` stores: nothing is downloaded twice. When no variant matches, the index
unit is recorded as failed with every variant's error, and the other indexes go on.
The release file is chosen the same way among ``release_files`` (InRelease first); with
``keyring=`` its signature is checked (`stagekit.remotes.deb_signature`) before anything
it lists is fetched. With ``Acquire-By-Hash: yes`` the by-hash URL is tried first (a 404
there is normal: the plain path is tried next, quietly).

Re-syncs (`stagekit.remotes.deb_resync`): an index whose sha256 in the Release is one the
store holds is not downloaded (the stored file is that index), and an index that a
finished run of the same remote already read, with that digest, is not parsed again: its
packages are recorded from the catalog in bulk (`RunContext.record_known`), with the
units, edges, depths and statuses a full re-run would give them.

A Packages index is parsed from the stored file, decompressed as a stream, in chunks of
a few milliseconds on the event loop (`stagekit.remotes.deb_index.PackagesReader`), so a
60,000-stanza index is never held in memory whole and never holds the loop for long;
units are put as chunks come, under the pipeline's back-pressure. Under
``policy="metadata-only"`` the packages whose ``.deb`` the stages would only defer are
recorded in bulk instead, a few thousand at a time (`RunContext.record_leaves`: the same
catalog rows, counts and records, without seven stages and three events per package).
A stanza without SHA256 (or another needed field) fails that package unit with a message
naming the index, the stanza and the field.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import re
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urljoin

from stagekit.context import RunContext
from stagekit.errors import (
    DownloadError,
    HTTPStatusError,
    MetadataError,
    SignatureError,
    UnitFailedError,
    UnsafePathError,
)
from stagekit.limits import limits_of
from stagekit.models import Content, DeclarativeArtifact, DeclarativeContent, safe_relative_path
from stagekit.options import OnError
from stagekit.remote import HTTPRemote, check_remote_url
from stagekit.remotes.base import prefetched
from stagekit.remotes.completion import as_done
from stagekit.remotes.deb_index import STANZA_FIELDS, PackagesReader, Release, parse_release
from stagekit.remotes.deb_resync import (
    fetch_first,
    held_in_store,
    known_packages,
    record_known_packages,
)
from stagekit.remotes.deb_signature import SIGNED_TEXT, check_keyring, check_release
from stagekit.remotes.guards import check_count
from stagekit.urls import redact_url, safe_segments

__all__ = ["DebPackage", "DebPackagesIndex", "DebRelease", "DebRemote"]

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")  # matched in full, lowercased
# A Filename of plain segments (none starting with "."; no "%", so nothing to decode) is a
# safe relative path, and only its "+" needs quoting in a URL; others get the full checks.
_PLAIN_FILENAME = re.compile(r"[\w+~-][\w+.~-]*(?:/[\w+~-][\w+.~-]*)*", re.ASCII)
# Packages recorded at once (`RunContext.record_leaves`): their rows are saved in one
# transaction, while the loop waits.
_BULK = 2000
PackageFilter = Iterable[str] | Callable[[Mapping[str, str]], bool]


@dataclass(frozen=True, slots=True)
class DebRelease(Content):
    """The Release of a distribution."""

    kind = "deb.release"
    distribution: str
    signature: str = field(default="", compare=False)  # "unverified" or "verified:<fpr>"

    def natural_key(self) -> tuple[str]:
        """A distribution has one Release."""
        return (self.distribution,)


@dataclass(frozen=True, slots=True)
class DebPackagesIndex(Content):
    """The Packages index of one component and architecture."""

    kind = "deb.packages"
    component: str
    architecture: str

    def natural_key(self) -> tuple[str, str]:
        """One index per component and architecture."""
        return (self.component, self.architecture)


@dataclass(frozen=True, slots=True)
class DebPackage(Content):
    """A binary package; ``filename``, ``size`` and ``sha256`` come from its stanza."""

    kind = "deb.package"
    name: str
    version: str
    architecture: str
    filename: str = field(default="", compare=False)
    size: int = field(default=0, compare=False)
    sha256: str = field(default="", compare=False)

    def natural_key(self) -> tuple[str, str, str]:
        """Name, version (with epoch) and architecture."""
        return (self.name, self.version, self.architecture)


class DebRemote(HTTPRemote):
    """Explore ``distribution`` of the archive at ``url`` (the directory holding ``dists/``).

    ``components`` / ``architectures`` default to those of the Release (``all`` left out
    when the Release says arch-all packages are in every architecture's index).
    ``packages`` keeps only some packages: names, or a callable given each stanza (a
    mapping of its fields, called on the event loop: keep it quick) returning whether to keep it.
    ``concurrency`` bounds index downloads; ``chunk_size`` is stanzas per parse step (the
    loop runs other work between steps).
    ``keyring`` (an OpenPGP keyring file, binary or armored) makes the Release signature
    checked with gpgv, as apt does: unsigned or badly signed metadata fails the release.
    Index downloads are written to the store's temporary directory by the run's
    downloader, and stored like any download.
    """

    def __init__(
        self,
        url: str,
        distribution: str,
        components: Iterable[str] | None = None,
        architectures: Iterable[str] | None = None,
        packages: PackageFilter | None = None,
        *,
        release_files: Iterable[str] = ("InRelease", "Release"),
        concurrency: int = 4,
        chunk_size: int = 100,
        keyring: str | os.PathLike[str] | None = None,
        max_depth: int | None = None,
        on_error: OnError | None = None,
    ) -> None:
        url = check_remote_url(url)
        super().__init__(url, max_depth=max_depth, on_error=on_error)
        self.keyring = None if keyring is None else check_keyring(keyring)
        self.base_url = url if url.endswith("/") else url + "/"
        self.distribution = distribution.strip("/")
        self.dist_path = safe_relative_path(f"dists/{self.distribution}", what="distribution")
        self.components = None if components is None else list(components)
        self.architectures = None if architectures is None else list(architectures)
        self.select: Callable[[Mapping[str, str]], bool] | None
        if packages is None:
            self.select = None
        elif callable(packages):
            self.select = packages
        else:
            self.select = _NamedPackages([packages] if isinstance(packages, str) else packages)
        self._full_stanzas = callable(packages)
        self.release_files = list(release_files)
        self.concurrency = concurrency
        self.chunk_size = chunk_size

    def describe(self) -> str:
        """The remote as shown in the catalog (a package filter is named, so that a
        re-sync never reuses the packages a filtered run found as the whole index)."""
        filtered = " (filtered)" if self.select is not None else ""
        return f"deb {redact_url(self.base_url)} {self.distribution}{filtered}"

    def has_children(self, dc: DeclarativeContent) -> bool:
        """Packages are leaves."""
        return not isinstance(dc.content, DebPackage)

    def dist_url(self, path: str) -> str:
        """URL of ``dists/<dist>/<path>``."""
        return urljoin(self.base_url, quote(f"{self.dist_path}/{path}"))

    # -- the release ----------------------------------------------------------------

    async def roots(self, ctx: RunContext) -> AsyncIterator[DeclarativeContent]:
        """The release unit, its file the first of ``release_files`` the archive serves."""
        key = f"{DebRelease.kind}:{self.distribution}"
        errors: list[str] = []
        for name in self.release_files:
            url = self.dist_url(name)
            try:
                result = await ctx.downloader.fetch(url, metadata=True)
            except DownloadError as exc:
                errors.append(str(exc))
                if isinstance(exc, HTTPStatusError) and exc.status in (403, 404, 410):
                    continue  # not served here: try the next name
                break
            try:
                signed = await check_release(name, url, result.temp_path, self.keyring,
                                             ctx.get_bytes)
            except SignatureError as exc:  # fail the release: nothing under it is fetched
                error = UnitFailedError(f"unit {key}: {exc}", unit_key=key, url=exc.url)
                error.__cause__ = exc
                ctx.fail(error, key=key, kind=DebRelease.kind)
                return
            artifact = prefetched(url, f"{self.dist_path}/{name}", result,
                                  extra_data={"mutable": True})
            yield DeclarativeContent(DebRelease(self.distribution, signed.signature), [artifact],
                                     extra_data={SIGNED_TEXT: signed.text})
            return
        error = UnitFailedError(f"no release file found: {'; '.join(errors)}",
                                unit_key=key, url=redact_url(self.dist_url("")))
        ctx.fail(error, key=key, kind=DebRelease.kind)

    async def discover(
        self, ctx: RunContext, unit: Content, dc: DeclarativeContent
    ) -> AsyncIterator[DeclarativeContent]:
        """A release's indexes (variant chosen and verified); an index's packages."""
        if isinstance(unit, DebRelease):
            async for child in self._indexes(ctx, unit, dc):
                yield child
        elif isinstance(unit, DebPackagesIndex):
            async for child in self._packages(ctx, unit, dc):
                yield child

    async def _indexes(
        self, ctx: RunContext, unit: DebRelease, dc: DeclarativeContent
    ) -> AsyncIterator[DeclarativeContent]:
        da = dc.d_artifacts[0]
        where = redact_url(da.url)
        data: bytes | None = dc.extra_data.get(SIGNED_TEXT)
        if data is None:
            if self.keyring is not None:  # never parse what was not checked
                raise SignatureError(f"{where}: release text was not verified", url=where)
            data = await asyncio.to_thread(dc.artifacts[da.relative_path].read_bytes)
        release = await asyncio.to_thread(parse_release, data, where)
        components = self.components or release.components
        architectures = self.architectures or release.default_architectures()
        if not components or not architectures:
            raise MetadataError(f"{where}: no Components/Architectures to explore", url=where,
                                field="Components" if not components else "Architectures")
        check_count(len(components) * len(architectures), limits_of(ctx.downloader),
                    what="the number of component/architecture pairs", where=where)
        pairs = list(itertools.product(dict.fromkeys(components), dict.fromkeys(architectures)))
        indexes = as_done(
            (((c, a), self._index_unit(ctx, dc, release, where, c, a)) for c, a in pairs),
            (BaseException,),
            limit=self.concurrency,
        )
        async with contextlib.aclosing(indexes):
            async for _pair, child, _error in indexes:
                if child is not None:
                    yield child

    async def _index_unit(
        self, ctx: RunContext, parent_dc: DeclarativeContent, release: Release, where: str,
        component: str, arch: str,
    ) -> DeclarativeContent | None:
        content = DebPackagesIndex(component, arch)
        try:  # names from the Release become URL paths: nothing may lead out of dists/
            safe_segments(f"{component}/binary-{arch}", what="component/architecture")
        except UnsafePathError as exc:
            ctx.fail(MetadataError(f"{where}: {exc}", url=where, field="Components"),
                     unit=content, parent=parent_dc, relation="index")
            return None
        variants = release.variants(component, arch)
        errors: list[str] = []
        for path, sha256, size in variants:
            urls = [self.dist_url(path)]
            if release.acquire_by_hash:
                directory = path.rsplit("/", 1)[0]
                urls.insert(0, self.dist_url(f"{directory}/by-hash/SHA256/{sha256}"))
            if await held_in_store(ctx, sha256, size):
                # The Release lists a digest the store holds: that file is the index,
                # and the pipeline finds it existing instead of downloading it.
                artifact = DeclarativeArtifact(urls, f"{self.dist_path}/{path}",
                                               digests={"sha256": sha256}, size=size)
                return DeclarativeContent(content, [artifact], relation="index")
            try:
                result, worked = await fetch_first(ctx, urls, sha256, size)
            except DownloadError as exc:
                log.info("Packages variant %s unusable, trying the next: %s", path, exc)
                errors.append(f"{path}: {exc}")
                continue
            artifact = prefetched([worked, *(u for u in urls if u != worked)],
                                  f"{self.dist_path}/{path}", result)
            return DeclarativeContent(content, [artifact], relation="index")
        why = "; ".join(errors) if errors else f"{where} lists no Packages index for it"
        error = UnitFailedError(
            f"no Packages index of {component}/binary-{arch} matches "
            f"the Release: {why}", unit_key=content.key, url=where)
        best = DeclarativeArtifact(self.dist_url(variants[0][0]), f"{self.dist_path}/"
                                   f"{variants[0][0]}", digests={"sha256": variants[0][1]},
                                   size=variants[0][2]) if variants else None
        ctx.fail(error, unit=content, parent=parent_dc, relation="index",
                 artifacts=(best,) if best else ())
        return None

    # -- the packages ---------------------------------------------------------------

    async def _packages(
        self, ctx: RunContext, unit: DebPackagesIndex, dc: DeclarativeContent
    ) -> AsyncIterator[DeclarativeContent]:
        da = dc.d_artifacts[0]
        where = redact_url(da.url)
        stored = dc.artifacts[da.relative_path]
        if self.select is None:
            if await record_known_packages(ctx, dc, stored.sha256, self.describe()):
                return  # an earlier run read this very index: recorded from the catalog
            known = await known_packages(ctx, unit.key, stored.sha256, self.describe())
            if known is not None:  # an earlier run read this very index: no parsing
                for saved in known:
                    yield self._declare_package(DebPackage(**saved))
                return
        path = stored.path
        if path is None:
            raise MetadataError(f"{where}: the index is not stored", url=where)
        fields = None if self._full_stanzas else STANZA_FIELDS
        # Parsed on the loop, a bounded chunk at a time with a yield between chunks: a
        # thread parsing beside the loop would take the GIL at each of the loop's system
        # calls and make it lag by hundreds of milliseconds.
        # Packages are recorded in bulk where the stages would only defer their .deb
        # (`RunContext.record_leaves`), a few thousand at a time; the others are yielded.
        pending: list[DeclarativeContent] = []
        with PackagesReader(path, da.relative_path, where, fields=fields, select=self.select,
                            limits=limits_of(ctx.downloader)) as reader:
            try:
                while not reader.finished:
                    for item in self._read_units(reader, where):
                        if isinstance(item, DeclarativeContent):
                            pending.append(item)
                        else:
                            ctx.fail(item[1], unit=item[0], parent=dc, relation="package")
                    if len(pending) >= _BULK or (pending and reader.finished):
                        batch, pending = pending, []
                        for child in await ctx.record_leaves(dc, batch):
                            yield child
                    await asyncio.sleep(0)
            except MetadataError:
                # The packages read before the index turned out bad (a cap reached, a
                # corrupt block) are found all the same, as when each was yielded at once.
                if pending:
                    for child in await ctx.record_leaves(dc, pending):
                        yield child
                raise

    def _read_units(
        self, reader: PackagesReader, where: str
    ) -> list[DeclarativeContent | tuple[DebPackage, Exception]]:
        """Parse and build one chunk of units (a few milliseconds of work)."""
        units: list[DeclarativeContent | tuple[DebPackage, Exception]] = []
        for number, stanza in reader.read(self.chunk_size):
            try:
                units.append(self._package_unit(stanza, where, number))
            except _BadStanza as bad:
                units.append((bad.content, bad.error))
        return units

    def _package_unit(
        self, stanza: Mapping[str, str], where: str, number: int
    ) -> DeclarativeContent:
        get = stanza.get
        name, version = get("Package", "").strip(), get("Version", "").strip()
        # One string per architecture, not one per stanza: the run keeps every unit's key.
        arch = sys.intern(get("Architecture", "").strip())
        filename, size_text = get("Filename", "").strip(), get("Size", "").strip()
        sha256 = get("SHA256", "").strip().lower()
        if not (name and version and arch and filename and size_text and sha256):
            missing = next(f for f in STANZA_FIELDS if not get(f, "").strip())
            raise self._bad(stanza, where, number, missing, f"has no {missing} field"
                            + ("; its .deb cannot be verified" if missing == "SHA256" else ""))
        if _SHA256.fullmatch(sha256) is None:
            raise self._bad(stanza, where, number, "SHA256",
                            f"has a malformed SHA256 {sha256[:80]!r}")
        if not (size_text.isdigit() and size_text.isascii()) or len(size_text) > 18:
            raise self._bad(stanza, where, number, "Size",
                            f"has a malformed Size {size_text[:40]!r}")
        plain = _PLAIN_FILENAME.fullmatch(filename) is not None
        if not plain:
            try:
                safe_segments(safe_relative_path(filename, what="Filename"), what="Filename")
            except ValueError as exc:
                raise self._bad(stanza, where, number, "Filename", str(exc)) from None
        return self._declare_package(
            DebPackage(name, version, arch, filename, int(size_text), sha256), plain)

    @staticmethod
    def _bad(stanza: Mapping[str, str], where: str, number: int, field_name: str,
             why: str) -> _BadStanza:
        """The failure of the package unit of a stanza that cannot be used."""
        name, version, arch = (stanza.get(f, "").strip() for f in
                               ("Package", "Version", "Architecture"))
        content = DebPackage(name or f"<stanza {number}>", version or "?",
                             sys.intern(arch) or "?")
        error = MetadataError(
            f"{where}: stanza {number} (package {content.name} {content.version} "
            f"{content.architecture}) {why}", url=where, field=field_name)
        return _BadStanza(content, error)

    def _declare_package(self, package: DebPackage, plain: bool | None = None
                         ) -> DeclarativeContent:
        """The unit of a checked package, its ``.deb`` deferred (``plain``: whether its
        Filename is known to match `_PLAIN_FILENAME`)."""
        # base_url ends with "/" and filename is a safe relative path: no urljoin needed.
        filename = package.filename
        if plain is None:
            plain = _PLAIN_FILENAME.fullmatch(filename) is not None
        path = (filename.replace("+", "%2B") if plain else quote(filename))
        artifact = DeclarativeArtifact(
            self.base_url + path, filename,
            digests={"sha256": package.sha256}, size=package.size, deferred=True)
        return DeclarativeContent(package, [artifact], relation="package")


class _NamedPackages:
    """Keeps the stanzas of the named packages (a picklable filter)."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)

    def __call__(self, stanza: Mapping[str, str]) -> bool:
        return stanza.get("Package") in self.names


class _BadStanza(Exception):
    def __init__(self, content: DebPackage, error: Exception) -> None:
        super().__init__(str(error))
        self.content = content
        self.error = error
