"""How much a remote may make stagekit read, hold, expand and follow: `Limits`.

A remote may lie about sizes, send bodies that never end, indexes with millions of
entries, or chains that never close. Every such quantity has a cap here; going past one
raises `stagekit.errors.LimitExceededError` (or `BodyTooLargeError` for a body), whose
message names the URL, the limit and the setting to change. The unit concerned fails; the
rest of the run goes on. Change a cap for a run with::

    DownloadConfig(limits=Limits(metadata_bytes=64 * 2**20, children=1_000_000))
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_LIMITS", "Limits", "limits_of"]

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps on what a remote hands over (bytes, counts, depths); ``None`` means no cap."""

    #: A metadata body held in memory (manifest, tags page, Release, POM, maven-metadata.xml,
    #: sidecar, token answer). Enforced while streaming.
    metadata_bytes: int = 16 * MiB
    #: An artifact whose size nobody declared (a declared size is its own cap).
    artifact_bytes: int | None = 64 * GiB
    #: A Packages index once decompressed (xz/gz bombs stop here).
    decompressed_bytes: int = 2 * GiB
    #: One line of a Debian index; one stanza of it.
    line_bytes: int = 1 * MiB
    stanza_bytes: int = 16 * MiB
    #: Entries one index may list: tags of a repository, packages of a Packages index,
    #: manifests of an OCI index, layers, dependencies of a POM, versions of an artifact,
    #: component x architecture pairs of a Release.
    children: int = 200_000
    #: Pages of a paginated list (``tags/list`` with ``Link: rel="next"``).
    pages: int = 10_000
    #: Parents above a POM (real chains are under 20 long).
    parent_chain: int = 100
    #: One Maven value once its ``${...}`` are expanded (a property that doubles 40
    #: times stops here).
    property_bytes: int = 1 * MiB

    def replace(self, **changes: Any) -> Limits:
        """A copy with ``changes`` applied (``limits.replace(pages=10)``)."""
        return dataclasses.replace(self, **changes)


DEFAULT_LIMITS = Limits()


def limits_of(downloader: Any) -> Limits:
    """The limits of a `Downloader` (its config's), or the defaults for anything else."""
    limits = getattr(getattr(downloader, "config", None), "limits", None)
    return limits if isinstance(limits, Limits) else DEFAULT_LIMITS
