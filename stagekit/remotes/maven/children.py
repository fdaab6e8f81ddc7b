"""What a discovery of Maven POMs follows from one effective POM: `children_of`."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from stagekit.errors import MetadataError
from stagekit.remotes.maven.coords import Coordinates
from stagekit.remotes.maven.effective import EffectivePom
from stagekit.remotes.maven.versions import is_range

__all__ = ["Child", "children_of", "is_excluded", "revisit_exclusions"]

Exclusions = frozenset[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Child:
    """A POM to visit next and why.

    ``relation`` is ``"parent"``, ``"import"``, ``"relocation"`` or ``"dependency:<scope>"``.
    ``coords.version`` may be a range spec (``is_range``): resolve it against the
    artifact's maven-metadata.xml first (`PomResolver.resolve_child`). ``exclusions``
    are the ``(groupId, artifactId)`` patterns to pass to `children_of` for that child.
    """

    coords: Coordinates
    relation: str
    exclusions: Exclusions = frozenset()
    optional: bool = False

    @property
    def is_range(self) -> bool:
        """Whether ``coords.version`` is a range that must be resolved first."""
        return is_range(self.coords.version)

    def with_version(self, version: str) -> Child:
        """The same child pinned to ``version`` (after resolving a range)."""
        return dataclasses.replace(self, coords=dataclasses.replace(self.coords, version=version))


def is_excluded(group: str, artifact: str, exclusions: Iterable[tuple[str, str]]) -> bool:
    """Whether ``group:artifact`` matches an exclusion (``*`` matches any group or artifact)."""
    return any(
        (eg == "*" or eg == group) and (ea == "*" or ea == artifact) for eg, ea in exclusions
    )


def children_of(
    effective: EffectivePom,
    *,
    scopes: Iterable[str] = ("compile", "runtime"),
    include_optional: bool = False,
    exclusions: Exclusions = frozenset(),
    problems: list[MetadataError] | None = None,
) -> list[Child]:
    """The POMs ``effective`` leads to: parent, imported BOMs, then dependencies.

    Dependencies (own and inherited) are followed when their scope is in ``scopes``, they
    are not optional (unless ``include_optional``) and their ``groupId:artifactId`` is not
    matched by ``exclusions`` (the exclusions inherited along the path, see `Child`). A
    followed dependency passes down ``exclusions`` plus its own: exclusions apply to the
    subtree under the dependency that declares them, as in Maven. The parent and BOMs are
    models, not dependencies: they get no exclusions. A relocated POM yields its parent and
    the relocation target (which keeps ``exclusions``), and no dependencies.

    Exclusions make the answer depend on the path by which a POM is reached: the answer
    is the union over every path, so a caller that reaches a POM again by a path that
    excludes less visits it again with `revisit_exclusions`.

    Raises `MetadataError` naming the URL and element for a followed dependency whose
    version is missing or whose values use an undefined property; with a ``problems``
    list, appends each such error there instead and goes on (one pass, however many).
    """
    wanted = frozenset(scopes)
    found: list[Child] = []
    seen: set[tuple[Coordinates, str]] = set()

    def add(child: Child) -> None:
        if (child.coords, child.relation) not in seen:
            seen.add((child.coords, child.relation))
            found.append(child)

    if effective.parent is not None:
        add(Child(effective.parent, "parent"))
    if effective.relocation is not None:
        add(Child(effective.relocation, "relocation", exclusions))
        return found
    for coords in effective.import_coordinates:
        add(Child(coords, "import"))
    for dep in effective.dependencies:
        if dep.scope not in wanted or (dep.optional and not include_optional):
            continue
        if is_excluded(dep.group, dep.artifact, exclusions):
            continue
        if dep.problem is not None or dep.version is None:
            inherited = "" if dep.source_url == effective.url else f" (in {dep.source_url})"
            error = MetadataError(
                f"{effective.url}: {dep.problem}{inherited}", url=effective.url, field=dep.where
            )
            if problems is None:
                raise error
            problems.append(error)
            continue
        add(
            Child(
                Coordinates(dep.group, dep.artifact, dep.version),
                f"dependency:{dep.scope}",
                exclusions | dep.exclusions,
                bool(dep.optional),
            )
        )
    return found


def revisit_exclusions(known: Mapping[str, Any], found: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``extra_data`` to explore a POM with once a second path reaches it, or None.

    ``known`` is what the POM is (or will be) explored with, ``found`` what the new path
    brings; both hold ``"exclusions"`` (absent: none). A child allowed by either path is
    in, so the POM is explored with the intersection, returned only when it is strictly
    smaller than ``known``'s (a join that only shrinks: any order of arrival ends at the
    same set, and a POM is explored at most once per distinct set).
    """
    mine: Exclusions = frozenset(known.get("exclusions") or ())
    if not mine:
        return None
    both = mine & frozenset(found.get("exclusions") or ())
    if both == mine:
        return None
    return {**known, "exclusions": both}
