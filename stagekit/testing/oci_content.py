"""The content of a generated OCI registry: real manifests, indexes, configs and layers.

Everything is built from a seed, so two builds with the same arguments give the same bytes.
Digests are ``"sha256:<hex>"`` of the exact stored bytes; descriptor sizes are exact.
Layers are real gzipped tarballs (one file of seeded random bytes); configs carry
``architecture``, ``os`` and ``rootfs.diff_ids`` (sha256 of the uncompressed tars).

Expected units (what `build_expected` answers), keyed as the explorer must key them:

- ``oci.tag:<repository>:<tag>`` depth 0, artifact ``<repository>/manifests/<tag>``;
- ``oci.index:<digest>`` / ``oci.manifest:<digest>`` for the tag target (relation
  ``"manifest"``) and an index's children (relation ``"manifest"``); Docker manifest lists
  are ``oci.index`` and Docker schema 2 manifests ``oci.manifest``;
- ``oci.blob:<digest>`` for configs (relation ``"config"``, not deferred) and layers
  (relation ``"layer"``, deferred). A shared layer is one unit with several parents.

Everything fetched by digest has the content-addressed relative path
``blobs/sha256/<hex>`` (as in an OCI image layout), so a unit reached from two
repositories has one path; its ``url_path`` is the first repository's URL.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from stagekit.testing.repo import Expected, ExpectedArtifact, ExpectedUnit

__all__ = [
    "DOCKER_CONFIG",
    "DOCKER_LAYER",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "INDEX_TYPES",
    "MANIFEST_TYPES",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_MANIFEST",
    "Blob",
    "Manifest",
    "OCIContent",
    "build_content",
    "build_expected",
    "digest_of",
]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})

_EPOCH = "2024-01-01T00:00:00Z"


def digest_of(body: bytes) -> str:
    """The ``sha256:<hex>`` digest of ``body``."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


@dataclass(frozen=True, slots=True)
class Blob:
    """A config or layer blob."""

    digest: str
    body: bytes
    media_type: str


@dataclass(slots=True)
class Manifest:
    """A stored manifest or index: exact bytes, media type and what it points at."""

    digest: str
    body: bytes
    media_type: str
    platform: str | None = None
    children: list[tuple[str, str]] = field(default_factory=list)  # (digest, platform)
    config: str | None = None
    layers: list[str] = field(default_factory=list)

    @property
    def is_index(self) -> bool:
        """Whether this is an OCI index or a Docker manifest list."""
        return self.media_type in INDEX_TYPES


@dataclass(slots=True)
class OCIContent:
    """All repositories: tags -> digests, manifests and blobs each repository holds."""

    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    manifests: dict[str, Manifest] = field(default_factory=dict)
    blobs: dict[str, Blob] = field(default_factory=dict)
    repo_manifests: dict[str, set[str]] = field(default_factory=dict)
    repo_blobs: dict[str, set[str]] = field(default_factory=dict)

    def add_manifest(self, repository: str, manifest: Manifest) -> Manifest:
        """Store ``manifest`` and make it fetchable by digest from ``repository``."""
        self.manifests[manifest.digest] = manifest
        self.repo_manifests[repository].add(manifest.digest)
        return manifest

    def add_blob(self, repository: str, blob: Blob) -> Blob:
        """Store ``blob`` and make it fetchable from ``repository``."""
        self.blobs.setdefault(blob.digest, blob)
        self.repo_blobs[repository].add(blob.digest)
        return blob


def _platform_dict(platform: str) -> dict[str, str]:
    parts = platform.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"platform {platform!r} is not 'os/architecture[/variant]'")
    result = {"architecture": parts[1], "os": parts[0]}
    if len(parts) == 3:
        result["variant"] = parts[2]
    return result


def _dump(obj: object, docker: bool) -> bytes:
    # Docker tools write indented JSON, OCI tools (buildkit) compact JSON: clients must
    # keep the exact bytes either way, never re-serialise.
    if docker:
        return json.dumps(obj, indent=3).encode()
    return json.dumps(obj, separators=(",", ":")).encode()


class _Builder:
    """Build blobs and manifests from one seeded random stream."""

    def __init__(self, content: OCIContent, seed: int, layer_size: int | tuple[int, int],
                 layers: int, shared_layers: bool) -> None:
        self.content = content
        self.rng = random.Random(seed)
        self.layer_size = layer_size
        self.layers = layers
        self.shared_layers = shared_layers
        self._base: dict[str, tuple[bytes, str]] = {}  # platform -> (gzipped tar, diff_id)
        self._counter = 0

    def _size(self) -> int:
        if isinstance(self.layer_size, int):
            return self.layer_size
        return self.rng.randint(*self.layer_size)

    def _layer(self, name: str) -> tuple[bytes, str]:
        payload = self.rng.randbytes(self._size())
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo(f"opt/{name}/data.bin")
            info.size, info.mtime, info.mode = len(payload), 1704067200, 0o644
            tar.addfile(info, io.BytesIO(payload))
        tar_bytes = raw.getvalue()
        diff_id = "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
        return gzip.compress(tar_bytes, mtime=0), diff_id

    def _layers_for(self, platform: str) -> list[tuple[bytes, str]]:
        result = []
        if self.shared_layers and self.layers > 0:
            if platform not in self._base:
                self._base[platform] = self._layer("base-" + platform.replace("/", "-"))
            result.append(self._base[platform])
        while len(result) < self.layers:
            self._counter += 1
            result.append(self._layer(f"layer{self._counter}"))
        return result

    def image(self, repository: str, tag: str, platform: str, docker: bool) -> Manifest:
        """One image (config, layers, manifest) stored in ``repository``."""
        layers = self._layers_for(platform)
        plat = _platform_dict(platform)
        config = {
            "architecture": plat["architecture"],
            "os": plat["os"],
            **({"variant": plat["variant"]} if "variant" in plat else {}),
            "created": _EPOCH,
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["/bin/sh"],
                "Labels": {"org.opencontainers.image.ref.name": f"{repository}:{tag}"},
            },
            "rootfs": {"type": "layers", "diff_ids": [diff for _, diff in layers]},
            "history": [{"created": _EPOCH, "created_by": f"ADD layer {i} in /"}
                        for i in range(len(layers))],
        }
        config_blob = self._blob(repository, _dump(config, docker),
                                 DOCKER_CONFIG if docker else OCI_CONFIG)
        layer_type = DOCKER_LAYER if docker else OCI_LAYER
        layer_blobs = [self._blob(repository, body, layer_type) for body, _ in layers]
        media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
        body = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": _descriptor(config_blob),
            "layers": [_descriptor(b, layer_type) for b in layer_blobs],
        }
        raw = _dump(body, docker)
        return self.content.add_manifest(repository, Manifest(
            digest_of(raw), raw, media_type, platform=platform,
            config=config_blob.digest, layers=[b.digest for b in layer_blobs]))

    def index(self, repository: str, tag: str, platforms: Sequence[str],
              docker: bool) -> Manifest:
        """A multi-platform index (or Docker manifest list) and its images."""
        images = [self.image(repository, tag, p, docker) for p in platforms]
        body: dict[str, object] = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST_LIST if docker else OCI_INDEX,
            "manifests": [
                {"mediaType": m.media_type, "digest": m.digest, "size": len(m.body),
                 "platform": _platform_dict(p)}
                for m, p in zip(images, platforms, strict=True)
            ],
        }
        raw = _dump(body, docker)
        return self.content.add_manifest(repository, Manifest(
            digest_of(raw), raw, str(body["mediaType"]),
            children=[(m.digest, p) for m, p in zip(images, platforms, strict=True)]))

    def _blob(self, repository: str, body: bytes, media_type: str) -> Blob:
        return self.content.add_blob(repository, Blob(digest_of(body), body, media_type))


def _descriptor(blob: Blob, media_type: str | None = None) -> dict[str, object]:
    return {"mediaType": media_type or blob.media_type, "digest": blob.digest,
            "size": len(blob.body)}


def build_content(repositories: Sequence[str], tags: int, platforms: Sequence[str],
                  layers: int, layer_size: int | tuple[int, int], shared_layers: bool,
                  docker_every: int, latest: bool, seed: int) -> OCIContent:
    """Build every repository: even tags are indexes (when there are several platforms),
    odd tags single manifests; every ``docker_every``-th tag uses Docker media types."""
    if not platforms:
        raise ValueError("platforms must name at least one 'os/architecture'")
    content = OCIContent()
    builder = _Builder(content, seed, layer_size, layers, shared_layers)
    for repository in repositories:
        content.tags[repository] = {}
        content.repo_manifests[repository] = set()
        content.repo_blobs[repository] = set()
        for i in range(tags):
            tag = f"1.{i}"
            docker = docker_every > 0 and i % docker_every == docker_every - 1
            if i % 2 == 0 and len(platforms) > 1:
                target = builder.index(repository, tag, platforms, docker)
            else:
                platform = platforms[(i // 2) % len(platforms)]
                target = builder.image(repository, tag, platform, docker)
            content.tags[repository][tag] = target.digest
        if latest and tags:
            content.tags[repository]["latest"] = content.tags[repository][f"1.{tags - 1}"]
    return content


def build_expected(content: OCIContent, platforms: Iterable[str] | None = None) -> Expected:
    """The units and edges an explorer must find; ``platforms`` limits index children.

    Single-manifest tags are kept whatever their platform: a client only learns it by
    reading the config, and registries do not filter them either.
    """
    wanted = None if platforms is None else set(platforms)
    expected = Expected()
    for repository, tags in content.tags.items():
        for tag, digest in tags.items():
            target = content.manifests[digest]
            key = f"oci.tag:{repository}:{tag}"
            expected.add_unit(ExpectedUnit(key, "oci.tag", 0, [ExpectedArtifact(
                f"{repository}/manifests/{tag}", digest.removeprefix("sha256:"),
                len(target.body), f"v2/{repository}/manifests/{tag}")]))
            _add_manifest(expected, content, repository, key, target, 1, wanted)
    return expected


def _artifact(repository: str, route: str, digest: str, size: int,
              deferred: bool = False) -> ExpectedArtifact:
    hex_digest = digest.removeprefix("sha256:")
    return ExpectedArtifact(f"blobs/sha256/{hex_digest}", hex_digest, size,
                            f"v2/{repository}/{route}/{digest}", deferred)


def _add_manifest(expected: Expected, content: OCIContent, repository: str, parent: str,
                  manifest: Manifest, depth: int, wanted: set[str] | None) -> None:
    kind = "oci.index" if manifest.is_index else "oci.manifest"
    key = f"{kind}:{manifest.digest}"
    expected.edges.add((parent, key, "manifest"))
    expected.add_unit(ExpectedUnit(key, kind, depth, [
        _artifact(repository, "manifests", manifest.digest, len(manifest.body))]))
    for child, platform in manifest.children:
        if wanted is None or platform in wanted:
            _add_manifest(expected, content, repository, key, content.manifests[child],
                          depth + 1, wanted)
    blobs = [(manifest.config, "config", False)] if manifest.config else []
    blobs += [(layer, "layer", True) for layer in manifest.layers]
    for digest, relation, deferred in blobs:
        blob_key = f"oci.blob:{digest}"
        expected.edges.add((key, blob_key, relation))
        expected.add_unit(ExpectedUnit(blob_key, "oci.blob", depth + 1, [_artifact(
            repository, "blobs", digest, len(content.blobs[digest].body), deferred)]))
