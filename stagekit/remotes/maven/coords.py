"""Maven coordinates and the Maven 2 repository layout (where each file lives).

Coordinates come from POMs a remote serves, so every layout path is checked segment by
segment after percent-decoding (`stagekit.urls.safe_segments`): ``%2e%2e``, ``..`` or a
``/`` in a version never leads a request out of the repository.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from stagekit.errors import MetadataError
from stagekit.urls import safe_segments

__all__ = [
    "SIDECAR_ALGORITHMS",
    "Coordinates",
    "artifact_path",
    "group_path",
    "metadata_path",
    "packaging_extension",
    "pom_path",
    "sidecar_path",
    "type_extension",
]

# Sidecar checksum files a Maven repository may hold next to each file.
SIDECAR_ALGORITHMS = ("sha1", "md5", "sha256", "sha512")

# Packagings whose main artifact is a jar (as the default ArtifactHandlers declare them).
_PACKAGING_EXTENSIONS: dict[str, str | None] = {
    "pom": None,
    "jar": "jar",
    "bundle": "jar",
    "maven-plugin": "jar",
    "ejb": "jar",
    "java-source": "jar",
    "javadoc": "jar",
    "war": "war",
    "ear": "ear",
    "rar": "rar",
    "par": "par",
    "aar": "aar",
    "apklib": "apklib",
    "kotlin-js": "klib",
}

# Dependency types that name a file differently from their type (extension, classifier).
_TYPE_FILES: dict[str, tuple[str, str | None]] = {
    "test-jar": ("jar", "tests"),
    "ejb-client": ("jar", "client"),
    "java-source": ("jar", "sources"),
    "javadoc": ("jar", "javadoc"),
    "bundle": ("jar", None),
    "maven-plugin": ("jar", None),
    "ejb": ("jar", None),
}


@dataclass(frozen=True, slots=True, order=True)
class Coordinates:
    """``groupId:artifactId:version`` of a POM (the version may be a range spec in a `Child`)."""

    group: str
    artifact: str
    version: str

    def __str__(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"

    @property
    def ga(self) -> tuple[str, str]:
        """``(groupId, artifactId)``, the key exclusions match."""
        return (self.group, self.artifact)

    @classmethod
    def parse(cls, text: str) -> Coordinates:
        """Parse ``"g:a:v"``; raise `MetadataError` for anything else."""
        parts = text.strip().split(":")
        if len(parts) != 3 or not all(parts):
            raise MetadataError(f"{text!r} is not groupId:artifactId:version", field="coordinates")
        return cls(*parts)


def packaging_extension(packaging: str) -> str | None:
    """Extension of the main artifact of a POM with this packaging; None for ``pom``.

    Unknown packagings (custom lifecycles) use the packaging as the extension, as Maven does.
    """
    return _PACKAGING_EXTENSIONS.get(packaging, packaging)


def type_extension(dep_type: str) -> tuple[str, str | None]:
    """``(extension, implied classifier)`` of a dependency ``<type>``."""
    return _TYPE_FILES.get(dep_type, (dep_type, None))


def group_path(group: str) -> str:
    """``org.example.foo`` -> ``org/example/foo``."""
    return group.replace(".", "/")


# A segment made of these only cannot decode to anything (no '%') nor hold a separator
# or a control character: it is safe unless it is '.' or '..'.
_PLAIN = re.compile(r"[A-Za-z0-9._+~-]+")


def _checked(path: str, what: str) -> str:
    """`safe_segments`, with a quick answer for the plain paths real coordinates make."""
    if _PLAIN.fullmatch(path.replace("/", "")) and not any(
            seg in ("", ".", "..") for seg in path.split("/")):
        return path
    return safe_segments(path, what=what)


@functools.lru_cache(maxsize=16384)
def _version_dir(c: Coordinates) -> str:
    # Every layout path of a POM starts here: checked once per coordinates, then reused.
    return _checked(f"{group_path(c.group)}/{c.artifact}/{c.version}",
                    what=f"layout path of {c}")


@functools.lru_cache(maxsize=16384)
def pom_path(c: Coordinates) -> str:
    """Layout path of the POM: ``g/r/o/u/p/artifact/version/artifact-version.pom``."""
    return _checked(f"{_version_dir(c)}/{c.artifact}-{c.version}.pom",
                    what=f"layout path of {c}")


def artifact_path(c: Coordinates, packaging: str, classifier: str | None = None) -> str | None:
    """Layout path of the main (or classified) artifact; None when the packaging has none."""
    extension = packaging_extension(packaging)
    if extension is None:
        return None
    suffix = f"-{classifier}" if classifier else ""
    return _checked(f"{_version_dir(c)}/{c.artifact}-{c.version}{suffix}.{extension}",
                    what=f"layout path of {c}")


def metadata_path(group: str, artifact: str) -> str:
    """Layout path of the artifact-level ``maven-metadata.xml`` (lists the versions)."""
    return _checked(f"{group_path(group)}/{artifact}/maven-metadata.xml",
                    what=f"layout path of {group}:{artifact}")


def sidecar_path(path: str, algorithm: str) -> str:
    """Path of the checksum file of ``path`` (``.sha1``, ``.md5``, ``.sha256``, ``.sha512``)."""
    if algorithm not in SIDECAR_ALGORITHMS:
        raise ValueError(f"no Maven sidecar for algorithm {algorithm!r}")
    return f"{path}.{algorithm}"
