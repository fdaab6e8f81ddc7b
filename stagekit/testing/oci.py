"""A fixture OCI registry: the read side of the OCI Distribution Spec v1.1.

Routes (all answers carry ``Docker-Distribution-API-Version: registry/2.0``):

- ``GET /v2/`` -> 200 ``{}`` (401 and a Bearer challenge when ``auth`` is on);
- ``GET /v2/_catalog`` and ``GET /v2/<name>/tags/list`` with ``n``/``last`` pagination
  and ``Link: <...>; rel="next"`` while more remain; tags in lexical order;
- ``GET|HEAD /v2/<name>/manifests/<tag or digest>``: the exact stored bytes,
  ``Content-Type`` = the manifest's media type, ``Docker-Content-Digest``;
- ``GET|HEAD /v2/<name>/blobs/<digest>``: bytes with single-range support (206/416);
- ``GET /token`` (see `stagekit.testing.oci_auth`).

Errors use the spec body ``{"errors": [{"code", "message", "detail"}]}`` with codes
NAME_UNKNOWN, MANIFEST_UNKNOWN, BLOB_UNKNOWN, DIGEST_INVALID, PAGINATION_NUMBER_INVALID.

Content negotiation: this registry never converts. When ``strict_accept`` is on (default)
a manifest is served only if the request's ``Accept`` names its media type exactly;
otherwise (no Accept, ``*/*`` only, or other types) it answers 404 MANIFEST_UNKNOWN, as
registries that refuse to serve an OCI index to a client that did not ask for one do.
Clients must therefore send every manifest type they understand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from aiohttp import web

from stagekit.testing.oci_auth import TokenAuth, error_response
from stagekit.testing.oci_content import (
    OCI_INDEX,
    Blob,
    Manifest,
    OCIContent,
    build_content,
    build_expected,
    digest_of,
)
from stagekit.testing.repo import Expected, Repo
from stagekit.testing.server import parse_range

__all__ = ["OCIRepo", "make_oci_repo"]

_API_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class OCIRepo(Repo):
    """A generated registry; ``auth``, ``strict_accept`` and ``max_page`` may change live.

    ``content`` holds every tag, manifest and blob; ``tokens_issued`` counts tokens so
    tests can assert reuse; `corrupt_manifest`, `corrupt_blob` and
    `self_referencing_index` break content for bad-input tests (``expected`` keeps
    describing the healthy registry).
    """

    def __init__(self, content: OCIContent, *, auth: bool = False, expires_in: int = 300,
                 service: str = "stagekit-registry",
                 credentials: tuple[str, str] | None = None,
                 max_page: int | None = None, strict_accept: bool = True) -> None:
        super().__init__(files={}, expected=build_expected(content))
        self.content = content
        self.auth = auth
        self.token_auth = TokenAuth(service, expires_in, credentials)
        self.max_page = max_page
        self.strict_accept = strict_accept
        self._served: dict[str, bytes] = {}  # digest -> bytes served instead (faults)

    @property
    def tokens_issued(self) -> int:
        """How many tokens ``/token`` has handed out."""
        return self.token_auth.tokens_issued

    @property
    def expires_in(self) -> int:
        """Lifetime in seconds of tokens issued from now on."""
        return self.token_auth.expires_in

    @expires_in.setter
    def expires_in(self, seconds: int) -> None:
        self.token_auth.expires_in = seconds

    def expire_tokens(self) -> None:
        """Invalidate every token issued so far: the next request with one gets 401."""
        self.token_auth.expire_all()

    def entry_path(self) -> str:
        """The registry's API base."""
        return "v2/"

    def expected_for(self, platforms: Iterable[str] | None = None) -> Expected:
        """`expected` when an explorer keeps only ``platforms`` of each index."""
        return build_expected(self.content, platforms)

    def tag_digest(self, tag: str, repository: str | None = None) -> str:
        """The digest ``tag`` points at (in ``repository``, default the first one)."""
        return self.content.tags[self._repository(repository)][tag]

    def corrupt_manifest(self, tag: str, repository: str | None = None,
                         platform: str | None = None) -> str:
        """Serve other bytes for the tag's target (or its ``platform`` child) under the
        same digest, by tag and by digest; returns the corrupted digest."""
        digest = self.tag_digest(tag, repository)
        if platform is not None:
            children = dict((p, d) for d, p in self.content.manifests[digest].children)
            digest = children[platform]
        self._served[digest] = self.content.manifests[digest].body + b"\n"
        return digest

    def corrupt_blob(self, digest: str) -> None:
        """Serve ``digest``'s blob with one byte changed (same size)."""
        body = bytearray(self.content.blobs[digest].body)
        body[len(body) // 2] ^= 0xFF
        self._served[digest] = bytes(body)

    def self_referencing_index(self, tag: str, repository: str | None = None) -> str:
        """Point ``tag`` at an index that lists its own digest; returns that digest.

        A content-addressed cycle cannot exist honestly, so the registry claims a digest
        ``D`` for an index whose only child is ``D``: a client that checks digests sees a
        mismatch, one that trusts ``Docker-Content-Digest`` sees a self-loop. Both must end.
        """
        name = self._repository(repository)
        claimed = digest_of(f"self-referencing {name}:{tag}".encode())
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_INDEX, "digest": claimed, "size": 0,
             "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
        size = len(body)
        while len(sized := body.replace(b'"size": 0', b'"size": %d' % size)) != size:
            size = len(sized)
        body = sized
        self.content.add_manifest(name, Manifest(claimed, body, OCI_INDEX,
                                                 children=[(claimed, "linux/amd64")]))
        self.content.tags[name][tag] = claimed
        return claimed

    def _repository(self, repository: str | None) -> str:
        return repository if repository is not None else next(iter(self.content.tags))

    def add_routes(self, app: web.Application) -> None:
        """Add the ``/v2/`` API and ``/token``."""
        app.router.add_get("/v2/", self._base)
        app.router.add_get("/v2/_catalog", self._catalog)
        app.router.add_get(r"/v2/{name:.+}/tags/list", self._tags)
        app.router.add_get(r"/v2/{name:.+}/manifests/{reference}", self._manifest)
        app.router.add_get(r"/v2/{name:.+}/blobs/{digest}", self._blob)
        app.router.add_get("/token", self.token_auth.handle_token)

    def _denied(self, request: web.Request, name: str | None) -> web.Response | None:
        return self.token_auth.check(request, name) if self.auth else None

    async def _base(self, request: web.Request) -> web.Response:
        denied = self._denied(request, None)
        return denied or web.Response(body=b"{}", headers={
            "Content-Type": "application/json", **_API_HEADER})

    async def _catalog(self, request: web.Request) -> web.Response:
        denied = self._denied(request, None)
        return denied or self._page(request, "/v2/_catalog", "repositories",
                                    sorted(self.content.tags), {})

    async def _tags(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        denied = self._denied(request, name)
        if denied is not None:
            return denied
        if name not in self.content.tags:
            return _name_unknown(name)
        return self._page(request, f"/v2/{name}/tags/list", "tags",
                          sorted(self.content.tags[name]), {"name": name})

    def _page(self, request: web.Request, path: str, field: str, items: list[str],
              extra: dict[str, str]) -> web.Response:
        raw_n = request.query.get("n")
        try:
            n = None if raw_n is None else int(raw_n)
            if n is not None and n < 0:
                raise ValueError(raw_n)
        except ValueError:
            return error_response(400, "PAGINATION_NUMBER_INVALID",
                                  f"invalid number of results requested: {raw_n!r}")
        if self.max_page is not None:
            n = self.max_page if n is None else min(n, self.max_page)
        last = request.query.get("last")
        if last is not None:
            items = [item for item in items if item > last]
        headers = {**_API_HEADER}
        if n is not None and len(items) > n:
            items = items[:n]
            if items:
                headers["Link"] = f'<{path}?n={n}&last={quote(items[-1], safe="")}>; rel="next"'
        return web.json_response({**extra, field: items}, headers=headers)

    async def _manifest(self, request: web.Request) -> web.Response:
        name, reference = request.match_info["name"], request.match_info["reference"]
        denied = self._denied(request, name)
        if denied is not None:
            return denied
        if name not in self.content.tags:
            return _name_unknown(name)
        if reference.startswith("sha256:"):
            if not _DIGEST.match(reference):
                return error_response(400, "DIGEST_INVALID", "invalid digest", reference)
            digest = reference if reference in self.content.repo_manifests[name] else None
        else:
            digest = self.content.tags[name].get(reference)
        if digest is None:
            return _manifest_unknown(name, reference)
        manifest = self.content.manifests[digest]
        if self.strict_accept and not _accepts(request, manifest.media_type):
            return _manifest_unknown(name, reference, f"Accept does not include "
                                     f"{manifest.media_type}; this registry never converts")
        body = self._served.get(digest, manifest.body)
        return web.Response(body=body, headers={
            "Content-Type": manifest.media_type, "Docker-Content-Digest": digest,
            "ETag": f'"{digest}"', **_API_HEADER})

    async def _blob(self, request: web.Request) -> web.Response:
        name, digest = request.match_info["name"], request.match_info["digest"]
        denied = self._denied(request, name)
        if denied is not None:
            return denied
        if name not in self.content.tags:
            return _name_unknown(name)
        if not _DIGEST.match(digest):
            return error_response(400, "DIGEST_INVALID", "invalid digest", digest)
        blob: Blob | None = self.content.blobs.get(digest)
        if blob is None or digest not in self.content.repo_blobs[name]:
            return error_response(404, "BLOB_UNKNOWN", "blob unknown to registry", digest)
        return _ranged(request, self._served.get(digest, blob.body), {
            "Content-Type": "application/octet-stream", "Docker-Content-Digest": digest,
            "ETag": f'"{digest}"', "Accept-Ranges": "bytes", **_API_HEADER})


def _name_unknown(name: str) -> web.Response:
    return error_response(404, "NAME_UNKNOWN", "repository name not known to registry",
                          {"name": name})


def _manifest_unknown(name: str, reference: str, why: str | None = None) -> web.Response:
    detail: dict[str, str] = {"name": name, "reference": reference}
    if why:
        detail["reason"] = why
    return error_response(404, "MANIFEST_UNKNOWN", "manifest unknown", detail)


def _accepts(request: web.Request, media_type: str) -> bool:
    types = {part.split(";")[0].strip().lower()
             for header in request.headers.getall("Accept", [])
             for part in header.split(",")}
    return media_type in types


def _ranged(request: web.Request, body: bytes, headers: dict[str, str]) -> web.Response:
    """``body`` whole, or the single byte range asked for (206), or 416."""
    header = request.headers.get("Range")
    try:
        span = None if header is None else parse_range(header, len(body))
    except ValueError:
        return web.Response(status=416, headers={**headers,
                                                 "Content-Range": f"bytes */{len(body)}"})
    if span is None:
        return web.Response(body=body, headers=headers)
    start, end = span
    return web.Response(status=206, body=body[start:end], headers={
        **headers, "Content-Range": f"bytes {start}-{end - 1}/{len(body)}"})


def make_oci_repo(repositories: Sequence[str] = ("library/app",), *, tags: int = 4,
                  platforms: Sequence[str] = ("linux/amd64", "linux/arm64"), layers: int = 2,
                  layer_size: int | tuple[int, int] = (512, 2048), shared_layers: bool = True,
                  docker_every: int = 3, latest: bool = False, auth: bool = False,
                  expires_in: int = 300, credentials: tuple[str, str] | None = None,
                  max_page: int | None = None, seed: int = 0) -> OCIRepo:
    """Generate a registry: ``tags`` tags per repository, alternating index / single image.

    ``shared_layers`` reuses one base layer per platform across every image;
    ``docker_every=k`` gives every k-th tag Docker media types (0: none); ``latest``
    adds a ``latest`` tag aliasing the last one; ``max_page`` caps list pages.
    """
    content = build_content(repositories, tags, platforms, layers, layer_size,
                            shared_layers, docker_every, latest, seed)
    return OCIRepo(content, auth=auth, expires_in=expires_in, credentials=credentials,
                   max_page=max_page)
