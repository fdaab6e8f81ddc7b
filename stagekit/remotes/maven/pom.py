"""Parse a POM into a `RawPom`: what the file says, before inheritance and interpolation."""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from stagekit.errors import MetadataError
from stagekit.remotes.maven.xmlutil import (
    children,
    first_children,
    full_text,
    local_name,
    parse_xml,
)

__all__ = ["RawDependency", "RawParent", "RawPom", "RawRelocation", "parse_pom"]


@dataclass(frozen=True, slots=True)
class RawDependency:
    """A ``<dependency>`` as written (values may hold ``${...}``); ``where`` names the element."""

    group: str | None
    artifact: str | None
    version: str | None
    type: str | None
    classifier: str | None
    scope: str | None
    optional: str | None
    exclusions: tuple[tuple[str, str], ...]
    where: str
    source_url: str

    def inheritance_key(self) -> tuple[str | None, str | None, str, str | None]:
        """Maven's management key ``groupId:artifactId:type:classifier`` on raw values."""
        return (self.group, self.artifact, self.type or "jar", self.classifier)


@dataclass(frozen=True, slots=True)
class RawParent:
    """The ``<parent>`` coordinates (``relativePath`` is read but never used)."""

    group: str | None
    artifact: str | None
    version: str | None
    relative_path: str | None = None


@dataclass(frozen=True, slots=True)
class RawRelocation:
    """``<distributionManagement><relocation>``: missing parts default to the POM's own."""

    group: str | None
    artifact: str | None
    version: str | None
    message: str | None = None


@dataclass(slots=True)
class RawPom:
    """One POM file as written; ``url`` is where it came from (used in every error)."""

    url: str
    group: str | None
    artifact: str
    version: str | None
    packaging: str | None
    parent: RawParent | None
    properties: dict[str, str] = field(default_factory=dict)
    management: tuple[RawDependency, ...] = ()
    dependencies: tuple[RawDependency, ...] = ()
    relocation: RawRelocation | None = None
    name: str | None = None


def _text(element: Element | None) -> str | None:
    return None if element is None else (full_text(element) or None)


def _dependency(element: Element, where: str, url: str) -> RawDependency:
    # One pass over the children instead of one per field: a POM may list 50,000.
    first = first_children(element)
    get = first.get
    exclusions = []
    for ex in children(get("exclusions"), "exclusion"):
        # A missing part is read as "*": Maven requires both, but rejecting would lose the POM.
        parts = first_children(ex)
        exclusions.append((_text(parts.get("groupId")) or "*",
                           _text(parts.get("artifactId")) or "*"))
    return RawDependency(
        group=_text(get("groupId")),
        artifact=_text(get("artifactId")),
        version=_text(get("version")),
        type=_text(get("type")),
        classifier=_text(get("classifier")),
        scope=_text(get("scope")),
        optional=_text(get("optional")),
        exclusions=tuple(exclusions),
        where=where,
        source_url=url,
    )


def _dependencies(section: dict[str, Element], prefix: str,
                  url: str) -> tuple[RawDependency, ...]:
    found = children(section.get("dependencies"), "dependency")
    return tuple(
        _dependency(e, f"{prefix}dependencies/dependency[{i}]", url)
        for i, e in enumerate(found, start=1)
    )


def parse_pom(data: bytes, *, url: str) -> RawPom:
    """Parse POM bytes (with or without the POM 4.0.0 namespace).

    Raises `MetadataError` naming ``url`` for malformed XML, entity declarations (entity
    expansion bombs are refused before expansion), a root that is not ``<project>`` or a
    missing ``artifactId``. Profiles are not read.
    """
    root = parse_xml(data, url=url, what="POM")
    if local_name(root) != "project":
        raise MetadataError(
            f"{url}: root element is <{local_name(root)}>, expected <project>", url=url
        )
    top = first_children(root)
    artifact = _text(top.get("artifactId"))
    if artifact is None:
        raise MetadataError(f"{url}: project/artifactId is missing", url=url, field="artifactId")
    parent_el = top.get("parent")
    parent = None
    if parent_el is not None:
        p = first_children(parent_el)
        parent = RawParent(
            group=_text(p.get("groupId")),
            artifact=_text(p.get("artifactId")),
            version=_text(p.get("version")),
            relative_path=_text(p.get("relativePath")),
        )
    properties: dict[str, str] = {}
    props = top.get("properties")
    for prop in () if props is None else list(props):
        name = local_name(prop)
        if name:
            properties[name] = full_text(prop)
    relocation = None
    reloc_el = first_children(top.get("distributionManagement")).get("relocation")
    if reloc_el is not None:
        r = first_children(reloc_el)
        relocation = RawRelocation(
            group=_text(r.get("groupId")),
            artifact=_text(r.get("artifactId")),
            version=_text(r.get("version")),
            message=_text(r.get("message")),
        )
    return RawPom(
        url=url,
        group=_text(top.get("groupId")),
        artifact=artifact,
        version=_text(top.get("version")),
        packaging=_text(top.get("packaging")),
        parent=parent,
        properties=properties,
        management=_dependencies(first_children(top.get("dependencyManagement")),
                                 "dependencyManagement/", url),
        dependencies=_dependencies(top, "", url),
        relocation=relocation,
        name=_text(top.get("name")),
    )
