"""An OCI registry (Distribution Spec v1.1, read side): tags -> index -> manifest -> blobs.

Units and keys::

    oci.tag:<repository>:<tag>     depth 0, artifact <repository>/manifests/<tag> (mutable)
      -> oci.index:<digest> | oci.manifest:<digest>          relation "manifest"
           (an index -> its child manifests, filtered by ``platforms``)
           -> oci.blob:<digest>   relation "config" (fetched) or "layer" (deferred)

Everything fetched by digest is stored under ``blobs/<algorithm>/<hex>``, so a layer
shared by several images is one unit with several parents.

Design: a tag's digest is not known before it is fetched, so the remote fetches each
tag's manifest itself (with the run's downloader, concurrently) to check the bytes
against the ``Docker-Content-Digest`` the registry announces, then hands the verified
download to the pipeline as the tag unit's artifact (`prefetched`). The tag's target is
then declared by digest: its bytes are already stored, so it is not fetched again.
Everything else is fetched by the `ArtifactDownloader`, which checks digest and size.
Every request asks for all four OCI/Docker manifest and index types (registries that
never convert serve only what the client names). Anonymous bearer-token auth is the
`stagekit.download.auth.BearerAuth` this remote installs on the run's downloader.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urljoin

from stagekit.context import RunContext
from stagekit.download.auth import Auth, BearerAuth
from stagekit.download.config import DownloadResult
from stagekit.errors import DigestMismatchError, DownloadError, MetadataError, UnitFailedError
from stagekit.limits import limits_of
from stagekit.models import Content, DeclarativeArtifact, DeclarativeContent, safe_relative_path
from stagekit.options import OnError
from stagekit.remote import HTTPRemote, check_remote_url
from stagekit.remotes.base import prefetched
from stagekit.remotes.completion import as_done
from stagekit.remotes.guards import check_count, check_size, foreign_urls, next_page
from stagekit.remotes.oci_manifest import (
    ACCEPT,
    INDEX_TYPES,
    MANIFEST_TYPES,
    Descriptor,
    Platform,
    media_type_of,
    next_link,
    parse_descriptor,
    parse_json,
    split_digest,
    wanted,
)
from stagekit.urls import redact_url

__all__ = ["OCIBlob", "OCIIndex", "OCIManifest", "OCIRemote", "OCITag"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OCITag(Content):
    """A tag of a repository; ``digest`` and ``media_type`` are what it pointed at."""

    kind = "oci.tag"
    repository: str
    tag: str
    digest: str = field(default="", compare=False)
    media_type: str = field(default="", compare=False)

    def natural_key(self) -> tuple[str, str]:
        """A tag is its repository and name."""
        return (self.repository, self.tag)


@dataclass(frozen=True, slots=True)
class OCIIndex(Content):
    """An OCI image index or a Docker manifest list."""

    kind = "oci.index"
    digest: str

    def natural_key(self) -> tuple[str]:
        """Content-addressed."""
        return (self.digest,)


@dataclass(frozen=True, slots=True)
class OCIManifest(Content):
    """An OCI image manifest or a Docker schema 2 manifest."""

    kind = "oci.manifest"
    digest: str

    def natural_key(self) -> tuple[str]:
        """Content-addressed."""
        return (self.digest,)


@dataclass(frozen=True, slots=True)
class OCIBlob(Content):
    """A config or layer blob."""

    kind = "oci.blob"
    digest: str
    media_type: str = field(default="", compare=False)

    def natural_key(self) -> tuple[str]:
        """Content-addressed."""
        return (self.digest,)


class OCIRemote(HTTPRemote):
    """Explore ``repository`` of the registry at ``registry_url`` (``http(s)://host[:port]/``).

    ``tags``: the tags to explore (default: every tag of ``tags/list``, following
    ``Link`` pagination, ``page_size`` per page if given). ``platforms``: keep only these
    children of an index, e.g. ``["linux/amd64", "linux/arm/v7"]`` (a platform without
    variant matches every variant). ``auth``: True for anonymous (or ``credentials``)
    bearer tokens, False for none, or an `Auth`; ``credentials`` go only to the origin of
    ``registry_url`` (a `BearerAuth` mapping of hosts to credentials serves several).
    ``follow_foreign_urls``: also try the ``urls`` a descriptor lists on other hosts
    (non-distributable layers); off by default. ``concurrency`` bounds tag fetches.
    The run's one downloader (and so the auth) serves this remote and the
    `ArtifactDownloader`.
    """

    def __init__(
        self,
        registry_url: str,
        repository: str,
        tags: Iterable[str] | None = None,
        platforms: Iterable[str] | None = None,
        *,
        auth: Auth | bool = True,
        credentials: tuple[str, str] | None = None,
        page_size: int | None = None,
        concurrency: int = 10,
        follow_foreign_urls: bool = False,
        max_depth: int | None = None,
        on_error: OnError | None = None,
    ) -> None:
        registry_url = check_remote_url(registry_url)
        super().__init__(registry_url, max_depth=max_depth, on_error=on_error)
        base = registry_url if registry_url.endswith("/") else registry_url + "/"
        self.registry_url = base.removesuffix("v2/")
        repository = repository.strip("/")
        safe_relative_path(repository, what="repository")
        self.repository = repository
        self.tags = None if tags is None else list(tags)
        self.platforms = None if platforms is None else [Platform.parse(p) for p in platforms]
        if auth is True:
            self.auth: Auth | None = BearerAuth(credentials, origin=self.registry_url)
        else:
            self.auth = auth or None
        self.page_size = page_size
        self.concurrency = concurrency
        self.follow_foreign_urls = follow_foreign_urls

    def describe(self) -> str:
        """The remote as shown in the catalog."""
        return f"oci {redact_url(self.registry_url)} {self.repository}"

    def has_children(self, dc: DeclarativeContent) -> bool:
        """Blobs are leaves."""
        return not isinstance(dc.content, OCIBlob)

    def url(self, route: str) -> str:
        """``<registry>/v2/<repository>/<route>``."""
        return urljoin(self.registry_url, f"v2/{quote(self.repository)}/{route}")

    # -- roots --------------------------------------------------------------------

    async def open(self, ctx: RunContext) -> None:
        """Install the registry's authentication on the run's downloader."""
        if self.auth is not None and getattr(ctx.downloader, "auth", None) is None:
            ctx.downloader.auth = self.auth

    async def roots(self, ctx: RunContext) -> AsyncIterator[DeclarativeContent]:
        """One unit per tag, its manifest fetched and checked against the registry's digest."""
        tags = self.tags if self.tags is not None else await self.list_tags(ctx)
        units = as_done(((tag, self._tag_unit(ctx, tag)) for tag in tags), (BaseException,),
                        limit=self.concurrency)
        async with contextlib.aclosing(units):
            async for _tag, dc, _error in units:
                if dc is not None:
                    yield dc

    async def list_tags(self, ctx: RunContext) -> list[str]:
        """Every tag of the repository, page after page (``Link: <...>; rel="next"``)."""
        url = self.url("tags/list") + (f"?n={self.page_size}" if self.page_size else "")
        tags: list[str] = []
        seen: set[str] = set()
        limits = limits_of(ctx.downloader)
        for pages in itertools.count(1):
            seen.add(url)
            body, headers = await ctx.downloader.get_bytes(url)
            where = redact_url(url)
            data = parse_json(body, where)
            page = data.get("tags") or []
            if not isinstance(page, list) or not all(isinstance(t, str) for t in page):
                raise MetadataError(f"{where}: 'tags' is not a list of strings", url=where,
                                    field="tags")
            tags.extend(page)
            check_count(len(tags), limits, what="the number of tags", where=where)
            link = next_link(headers.get("Link")) if page else None
            following = next_page(link, url, pages=pages, limits=limits, seen=seen)
            if following is None:
                break
            url = following
        return list(dict.fromkeys(tags))

    async def _tag_unit(self, ctx: RunContext, tag: str) -> DeclarativeContent | None:
        key = f"{OCITag.kind}:{self.repository}:{tag}"
        url = self.url(f"manifests/{quote(tag, safe='')}")
        rurl = redact_url(url)
        try:
            relative_path = safe_relative_path(f"{self.repository}/manifests/{tag}")
            result = await ctx.downloader.fetch(
                url, headers={"Accept": ACCEPT}, metadata=True)
        except (DownloadError, ValueError) as exc:
            _root_failed(ctx, key, rurl, exc)
            return None
        try:
            digest = await _verified_digest(result, f"manifest of {self.repository}:{tag}", rurl)
        except (DigestMismatchError, MetadataError) as exc:
            result.temp_path.unlink(missing_ok=True)
            _root_failed(ctx, key, rurl, exc)
            return None
        content_type = result.headers.get("Content-Type", "").split(";")[0].strip()
        artifact = prefetched(url, relative_path, result, extra_data={
            "mutable": True, "headers": {"Accept": ACCEPT}})
        return DeclarativeContent(OCITag(self.repository, tag, digest, content_type), [artifact])

    # -- children -----------------------------------------------------------------

    async def discover(
        self, ctx: RunContext, unit: Content, dc: DeclarativeContent
    ) -> AsyncIterator[DeclarativeContent]:
        """A tag's target; an index's (wanted) manifests; a manifest's config and layers."""
        da = dc.d_artifacts[0]
        where = redact_url(da.url)
        body = dc.artifacts[da.relative_path].read_bytes()
        limits = limits_of(ctx.downloader)
        check_size(len(body), limits, what="the manifest", where=where)
        data = parse_json(body, where) if len(body) < 256 * 1024 else \
            await asyncio.to_thread(parse_json, body, where)
        for name in ("manifests", "layers"):
            if isinstance(data.get(name), list):
                check_count(len(data[name]), limits, what=f"the number of {name}",
                            where=where, field=name)
        if isinstance(unit, OCITag):
            algorithm, hexvalue = split_digest(unit.digest, where)
            media_type = media_type_of(data, unit.media_type)
            target = Descriptor(media_type, unit.digest, algorithm, hexvalue, len(body))
            child = self._manifest_unit(target, where)
            if child is None:
                raise MetadataError(f"{where}: unsupported manifest type {media_type!r}",
                                    url=where, field="mediaType")
            yield child
        elif isinstance(unit, OCIIndex):
            manifests = data.get("manifests")
            if not isinstance(manifests, list):
                raise MetadataError(f"{where}: index without a 'manifests' list", url=where,
                                    field="manifests")
            for raw in manifests:
                descriptor = parse_descriptor(raw, where)
                if wanted(descriptor, self.platforms):
                    check_size(descriptor.size, limits, what=f"manifest {descriptor.digest}",
                               where=where)
                    child = self._manifest_unit(descriptor, where)
                    if child is not None:
                        yield child
        elif isinstance(unit, OCIManifest):
            if not isinstance(data.get("config"), dict):
                raise MetadataError(f"{where}: manifest without a 'config'", url=where,
                                    field="config")
            yield self._blob_unit(parse_descriptor(data["config"], where), "config", False)
            layers = data.get("layers") or []
            if not isinstance(layers, list):
                raise MetadataError(f"{where}: 'layers' is not a list", url=where,
                                    field="layers")
            for raw in layers:
                yield self._blob_unit(parse_descriptor(raw, where), "layer", True)

    def _manifest_unit(self, d: Descriptor, where: str) -> DeclarativeContent | None:
        content: Content
        if d.media_type in INDEX_TYPES:
            content = OCIIndex(d.digest)
        elif d.media_type in MANIFEST_TYPES:
            content = OCIManifest(d.digest)
        else:
            log.warning("%s: skipping %s of unsupported type %r", where, d.digest, d.media_type)
            return None
        artifact = DeclarativeArtifact(
            self.url(f"manifests/{d.digest}"), f"blobs/{d.algorithm}/{d.hex}",
            digests={d.algorithm: d.hex}, size=d.size, extra_data={"headers": {"Accept": ACCEPT}},
        )
        return DeclarativeContent(content, [artifact], relation="manifest")

    def _blob_unit(self, d: Descriptor, relation: str, deferred: bool) -> DeclarativeContent:
        artifact = DeclarativeArtifact(
            [self.url(f"blobs/{d.digest}"),
             *foreign_urls(d.urls, base=self.registry_url, follow=self.follow_foreign_urls)],
            f"blobs/{d.algorithm}/{d.hex}",
            digests={d.algorithm: d.hex}, size=d.size, deferred=deferred,
        )
        return DeclarativeContent(OCIBlob(d.digest, d.media_type), [artifact], relation=relation)


def _root_failed(ctx: RunContext, key: str, url: str, exc: Exception) -> None:
    error = UnitFailedError(str(exc), unit_key=key, url=url)
    error.__cause__ = exc
    ctx.fail(error, key=key, kind=OCITag.kind)


async def _verified_digest(result: DownloadResult, what: str, url: str) -> str:
    """The digest the registry announced for ``result`` once the bytes are checked to match.

    Without a ``Docker-Content-Digest`` header the sha256 of the bytes is the digest.
    """
    sha256 = result.digests["sha256"]
    announced = result.headers.get("Docker-Content-Digest")
    if not announced:
        log.debug("%s from %s: no Docker-Content-Digest, using sha256:%s", what, url, sha256)
        return f"sha256:{sha256}"
    algorithm, expected = split_digest(announced.strip(), url)
    if algorithm == "sha256":
        actual = sha256
    else:
        actual = await asyncio.to_thread(_hash_file, result.temp_path, algorithm)
    if actual != expected:
        raise DigestMismatchError(
            f"{what} from {url} hashes to {algorithm}:{actual}, but the registry announced "
            f"{announced.strip()}", url=url, algorithm=algorithm, expected=expected,
            actual=actual)
    return f"{algorithm}:{expected}"


def _hash_file(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
