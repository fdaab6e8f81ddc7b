"""Artifact-level ``maven-metadata.xml``: which versions of ``groupId:artifactId`` exist."""

from __future__ import annotations

from dataclasses import dataclass

from stagekit.errors import MetadataError
from stagekit.remotes.maven.versions import highest_matching, highest_version
from stagekit.remotes.maven.xmlutil import child, children, local_name, parse_xml, text_of

__all__ = ["MavenMetadata", "parse_metadata", "pick_version", "resolve_range"]


@dataclass(frozen=True, slots=True)
class MavenMetadata:
    """The parsed ``<metadata>``: ``versions`` in file order."""

    url: str
    group: str | None
    artifact: str | None
    latest: str | None
    release: str | None
    versions: tuple[str, ...]
    last_updated: str | None


def parse_metadata(data: bytes, *, url: str) -> MavenMetadata:
    """Parse an artifact-level ``maven-metadata.xml``; raises `MetadataError` naming ``url``."""
    root = parse_xml(data, url=url, what="maven-metadata.xml")
    if local_name(root) != "metadata":
        raise MetadataError(
            f"{url}: root element is <{local_name(root)}>, expected <metadata>", url=url
        )
    versioning = child(root, "versioning")
    versions: dict[str, None] = {}  # ordered and deduplicated in linear time
    for v in children(child(versioning, "versions"), "version"):
        text = text_of(v)
        if text:
            versions[text] = None
    return MavenMetadata(
        url=url,
        group=text_of(root, "groupId"),
        artifact=text_of(root, "artifactId"),
        latest=text_of(versioning, "latest"),
        release=text_of(versioning, "release"),
        versions=tuple(versions),
        last_updated=text_of(versioning, "lastUpdated"),
    )


def pick_version(meta: MavenMetadata) -> str | None:
    """The version to use when none is asked for: release, else latest, else the highest."""
    return meta.release or meta.latest or highest_version(meta.versions)


def resolve_range(meta: MavenMetadata, spec: str) -> str:
    """The highest listed version inside range ``spec``; `MetadataError` if none matches."""
    try:
        found = highest_matching(spec, meta.versions)
    except MetadataError as e:
        raise MetadataError(f"{meta.url}: {e}", url=meta.url, field="version") from e
    if found is None:
        raise MetadataError(
            f"{meta.url}: no version of {meta.group}:{meta.artifact} matches {spec!r} "
            f"(listed: {', '.join(meta.versions) or 'none'})",
            url=meta.url,
            field="version",
        )
    return found
