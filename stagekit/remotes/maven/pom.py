"""Parse a POM into a `RawPom`: what the file says, before inheritance and interpolation."""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from stagekit.errors import MetadataError
from stagekit.remotes.maven.xmlutil import child, children, local_name, parse_xml, text_of

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


def _dependency(element: Element, where: str, url: str) -> RawDependency:
    # One pass over the children instead of one per field: a POM may list 50,000.
    first: dict[str, Element] = {}
    for e in element:
        first.setdefault(local_name(e), e)

    def field(name: str) -> str | None:
        return text_of(first.get(name))

    exclusions = []
    for ex in children(first.get("exclusions"), "exclusion"):
        # A missing part is read as "*": Maven requires both, but rejecting would lose the POM.
        exclusions.append((text_of(ex, "groupId") or "*", text_of(ex, "artifactId") or "*"))
    return RawDependency(
        group=field("groupId"),
        artifact=field("artifactId"),
        version=field("version"),
        type=field("type"),
        classifier=field("classifier"),
        scope=field("scope"),
        optional=field("optional"),
        exclusions=tuple(exclusions),
        where=where,
        source_url=url,
    )


def _dependencies(section: Element | None, prefix: str, url: str) -> tuple[RawDependency, ...]:
    found = children(child(section, "dependencies"), "dependency")
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
    artifact = text_of(root, "artifactId")
    if artifact is None:
        raise MetadataError(f"{url}: project/artifactId is missing", url=url, field="artifactId")
    parent_el = child(root, "parent")
    parent = None
    if parent_el is not None:
        parent = RawParent(
            group=text_of(parent_el, "groupId"),
            artifact=text_of(parent_el, "artifactId"),
            version=text_of(parent_el, "version"),
            relative_path=text_of(parent_el, "relativePath"),
        )
    properties: dict[str, str] = {}
    for prop in list(child(root, "properties") or ()):
        name = local_name(prop)
        if name:
            properties[name] = "".join(prop.itertext()).strip()
    relocation = None
    reloc_el = child(child(root, "distributionManagement"), "relocation")
    if reloc_el is not None:
        relocation = RawRelocation(
            group=text_of(reloc_el, "groupId"),
            artifact=text_of(reloc_el, "artifactId"),
            version=text_of(reloc_el, "version"),
            message=text_of(reloc_el, "message"),
        )
    return RawPom(
        url=url,
        group=text_of(root, "groupId"),
        artifact=artifact,
        version=text_of(root, "version"),
        packaging=text_of(root, "packaging"),
        parent=parent,
        properties=properties,
        management=_dependencies(child(root, "dependencyManagement"), "dependencyManagement/", url),
        dependencies=_dependencies(root, "", url),
        relocation=relocation,
        name=text_of(root, "name"),
    )
