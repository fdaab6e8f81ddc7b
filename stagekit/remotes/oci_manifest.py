"""Reading OCI / Docker v2 manifests and indexes, platforms and ``Link`` pagination.

Bytes are never re-serialised: digests are of the exact bytes the registry sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from stagekit.errors import MetadataError

__all__ = [
    "ACCEPT",
    "INDEX_TYPES",
    "MANIFEST_TYPES",
    "Descriptor",
    "Platform",
    "media_type_of",
    "next_link",
    "parse_descriptor",
    "parse_json",
    "split_digest",
    "wanted",
]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
# Every type this remote reads: registries that never convert serve only what is asked.
ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST])

_DIGEST = re.compile(r"^(?P<alg>[a-z0-9]+(?:[+._-][a-z0-9]+)*):(?P<hex>[a-zA-Z0-9=_-]+)$")
_HEX_LENGTHS = {"sha256": 64, "sha512": 128}
_LINK = re.compile(r"<(?P<url>[^>]*)>(?P<params>[^,<]*)")


def split_digest(digest: str, where: str) -> tuple[str, str]:
    """``(algorithm, hex)`` of a ``sha256:<hex>``/``sha512:<hex>`` digest, else `MetadataError`."""
    match = _DIGEST.match(digest) if isinstance(digest, str) else None
    if match is None:
        raise MetadataError(f"{where}: {digest!r} is not a digest", url=where, field="digest")
    algorithm, hexvalue = match.group("alg"), match.group("hex")
    if _HEX_LENGTHS.get(algorithm) != len(hexvalue) or hexvalue != hexvalue.lower():
        raise MetadataError(f"{where}: unsupported or malformed digest {digest!r}",
                            url=where, field="digest")
    return algorithm, hexvalue


@dataclass(frozen=True, slots=True)
class Platform:
    """``os/architecture[/variant]``; a platform without variant matches every variant."""

    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``"linux/arm64"`` or ``"linux/arm/v7"``."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"platform {text!r} is not 'os/architecture[/variant]'")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def matches(self, platform: Any) -> bool:
        """Whether a descriptor's ``platform`` object is this platform."""
        if not isinstance(platform, dict):
            return False
        if (platform.get("os"), platform.get("architecture")) != (self.os, self.architecture):
            return False
        return self.variant is None or platform.get("variant") == self.variant


@dataclass(frozen=True, slots=True)
class Descriptor:
    """What a manifest or index says about one thing it points at."""

    media_type: str
    digest: str
    algorithm: str
    hex: str
    size: int
    platform: Any = None
    urls: tuple[str, ...] = ()


def parse_json(body: bytes, where: str) -> dict[str, Any]:
    """The JSON object in ``body``, or `MetadataError` naming ``where``."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MetadataError(f"{where}: not JSON ({exc})", url=where) from None
    if not isinstance(data, dict):
        raise MetadataError(f"{where}: the JSON is not an object", url=where)
    return data


def parse_descriptor(raw: Any, where: str) -> Descriptor:
    """Check one descriptor (mediaType, digest, size, platform, urls)."""
    if not isinstance(raw, dict):
        raise MetadataError(f"{where}: a descriptor is not an object", url=where)
    digest = raw.get("digest")
    algorithm, hexvalue = split_digest(digest, where)  # type: ignore[arg-type]
    size = raw.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise MetadataError(f"{where}: descriptor {digest} has no valid size ({size!r})",
                            url=where, field="size")
    media_type = raw.get("mediaType")
    urls = tuple(u for u in raw.get("urls") or () if isinstance(u, str)
                 and u.lower().startswith(("http://", "https://")))
    return Descriptor(media_type if isinstance(media_type, str) else "", str(digest),
                      algorithm, hexvalue, size, raw.get("platform"), urls)


def media_type_of(data: dict[str, Any], announced: str | None) -> str:
    """The body's ``mediaType``, else the one announced (Content-Type or descriptor)."""
    media_type = data.get("mediaType")
    if isinstance(media_type, str) and media_type:
        return media_type
    if announced:
        return announced.split(";")[0].strip().lower()
    # An OCI manifest may omit mediaType: tell index from manifest by shape.
    return OCI_INDEX if "manifests" in data else OCI_MANIFEST


def wanted(descriptor: Descriptor, platforms: Iterable[Platform] | None) -> bool:
    """Whether an index child is kept under the ``platforms`` filter (None: all)."""
    if platforms is None:
        return True
    return any(p.matches(descriptor.platform) for p in platforms)


def next_link(header: str | None) -> str | None:
    """The target of ``rel="next"`` in a ``Link`` header, or None."""
    if not header:
        return None
    for match in _LINK.finditer(header):
        params = [p.strip().lower().replace('"', "") for p in match.group("params").split(";")]
        if any(p.replace(" ", "") in ("rel=next",) for p in params):
            return match.group("url").strip()
    return None
