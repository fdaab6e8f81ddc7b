"""A small OCI registry on a `HostileServer`, with the baits of issue 13.

`add_registry` serves one repository with one tag: a manifest whose config blob is
served and whose layer is "non-distributable", listing ``urls`` on another host. The
registry wants a Bearer token that its ``/token`` realm gives only for the right Basic
credentials; the token answer comes in two TCP writes. `bait_foreign` makes another
server behave as the attacker: 401 with a realm of its own for anything, and a ``/token``
that logs what it was sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from stagekit.testing.hostile import Handler, HostileServer, challenge, respond, split_body

__all__ = ["OCI_MANIFEST", "Registry", "add_registry", "bait_foreign", "token_gate"]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
TOKEN = "registry-token-for-tests"


@dataclass(frozen=True, slots=True)
class Registry:
    """What `add_registry` serves: names and digests the tests check against."""

    repository: str
    tag: str
    manifest: bytes
    config_digest: str
    layer_digest: str


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def token_gate(inner: Handler, realm: str, repository: str) -> Handler:
    """``inner`` for requests with the registry's token, else 401 and the realm's challenge."""
    refuse = challenge(realm, service="registry", scope=f"repository:{repository}:pull")

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") == f"Bearer {TOKEN}":
            return await inner(request)
        return await refuse(request)

    return handler


def add_registry(server: HostileServer, *, credentials: tuple[str, str],
                 layer_urls: Sequence[str] = (), repository: str = "repo",
                 tag: str = "latest") -> Registry:
    """Serve ``repository:tag`` on ``server`` behind token auth with ``credentials``."""
    config = b'{"architecture":"amd64","os":"linux"}'
    layer = b"layer bytes that only the foreign host would serve"
    layer_descriptor: dict[str, object] = {
        "mediaType": NONDIST, "digest": _digest(layer), "size": len(layer)}
    if layer_urls:
        layer_descriptor["urls"] = list(layer_urls)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _digest(config), "size": len(config)},
        "layers": [layer_descriptor],
    }).encode()
    realm = server.url_for("token")
    basic = "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
    answer = split_body(json.dumps({"token": TOKEN, "expires_in": 300}), parts=2, pause=0.05)

    async def token(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != basic:
            return web.Response(status=401, text="bad credentials")
        return await answer(request)

    def gate(handler: Handler) -> Handler:
        return token_gate(handler, realm, repository)

    base = f"v2/{repository}/"
    server.add("token", token)
    server.add(f"{base}tags/list", gate(respond(
        json.dumps({"name": repository, "tags": [tag]}),
        headers={"Content-Type": "application/json"})))
    manifest_headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": _digest(manifest)}
    for reference in (tag, _digest(manifest)):
        server.add(f"{base}manifests/{reference}", gate(respond(manifest,
                                                                headers=manifest_headers)))
    server.add(f"{base}blobs/{_digest(config)}", gate(respond(config)))
    return Registry(repository, tag, manifest, _digest(config), _digest(layer))


def bait_foreign(server: HostileServer, paths: Sequence[str]) -> None:
    """Make ``server`` answer ``paths`` with 401 and a Bearer realm of its own."""
    for path in paths:
        server.add(path, challenge(server.url_for("token")))
    server.add("token", respond(b'{"token": "stolen"}',
                                headers={"Content-Type": "application/json"}))
