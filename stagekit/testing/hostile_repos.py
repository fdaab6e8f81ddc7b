"""Hostile Debian archives and Maven repositories, as files for a `HostileServer`.

`pom` writes a POM (parent, dependencies, properties, anything extra); `release` writes a
Release file listing the given index files with their SHA256 and size; `add_files` serves
a mapping of paths to bytes (or handlers) under a prefix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from stagekit.testing.hostile import Handler, HostileServer, respond

__all__ = ["add_files", "dependency", "metadata", "pom", "release", "xz_line_bomb"]


def add_files(server: HostileServer, prefix: str, files: Mapping[str, bytes | Handler]) -> str:
    """Serve ``files`` under ``prefix``; returns the base URL (ending with ``/``)."""
    base = prefix.strip("/") + "/"
    for path, body in files.items():
        server.add(base + path, respond(body) if isinstance(body, bytes) else body)
    return server.url_for(base)


def dependency(group: str, artifact: str, version: str | None = None,
               scope: str | None = None) -> str:
    """A ``<dependency>`` element."""
    parts = [f"<groupId>{group}</groupId>", f"<artifactId>{artifact}</artifactId>"]
    if version is not None:
        parts.append(f"<version>{version}</version>")
    if scope is not None:
        parts.append(f"<scope>{scope}</scope>")
    return "<dependency>" + "".join(parts) + "</dependency>"


def pom(group: str, artifact: str, version: str, *, parent: tuple[str, str, str] | None = None,
        dependencies: Iterable[str] = (), properties: Mapping[str, str] | None = None,
        extra: str = "") -> bytes:
    """A POM; ``dependencies`` are `dependency` strings."""
    head = ""
    if parent is not None:
        head = (f"<parent><groupId>{parent[0]}</groupId><artifactId>{parent[1]}</artifactId>"
                f"<version>{parent[2]}</version></parent>")
    props = "".join(f"<{k}>{v}</{k}>" for k, v in (properties or {}).items())
    return (
        '<?xml version="1.0"?><project xmlns="http://maven.apache.org/POM/4.0.0">'
        f"<modelVersion>4.0.0</modelVersion>{head}<groupId>{group}</groupId>"
        f"<artifactId>{artifact}</artifactId><version>{version}</version>"
        f"<packaging>pom</packaging><properties>{props}</properties>"
        f"<dependencies>{''.join(dependencies)}</dependencies>{extra}</project>"
    ).encode()


def metadata(group: str, artifact: str, versions: Iterable[str], release: str | None = None
             ) -> bytes:
    """An artifact-level ``maven-metadata.xml``."""
    listed = "".join(f"<version>{v}</version>" for v in versions)
    rel = f"<release>{release}</release>" if release else ""
    return (f"<metadata><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
            f"<versioning>{rel}<versions>{listed}</versions></versioning></metadata>").encode()


def release(components: Iterable[str], architectures: Iterable[str],
            indexes: Mapping[str, bytes]) -> bytes:
    """A Release file listing ``indexes`` (paths relative to ``dists/<dist>/``)."""
    lines = ["Origin: hostile", "Suite: stable", "Codename: stable",
             f"Components: {' '.join(components)}",
             f"Architectures: {' '.join(architectures)}", "SHA256:"]
    for path, body in indexes.items():
        lines.append(f" {hashlib.sha256(body).hexdigest()} {len(body)} {path}")
    return ("\n".join(lines) + "\n").encode()


def xz_line_bomb(line_bytes: int) -> bytes:
    """An xz file that expands to one line of ``line_bytes`` bytes (compressed as it goes)."""
    import lzma

    compressor = lzma.LZMACompressor(preset=1)
    parts = [compressor.compress(b"Package: ")]
    block = b"a" * (1024 * 1024)
    for _ in range(line_bytes // len(block)):
        parts.append(compressor.compress(block))
    parts.append(compressor.compress(b"\n"))
    parts.append(compressor.flush())
    return b"".join(parts)
