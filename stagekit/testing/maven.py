"""Generated Maven repositories (Maven 2 layout) with a known answer, for the fixture server.

Each repository serves, per POM, the ``.pom``, the main artifact (``.jar`` unless the
packaging is ``pom``), ``.sha1``/``.md5`` sidecars (hex only, as Maven writes them) and an
artifact-level ``maven-metadata.xml`` per ``groupId:artifactId``. ``repo.roots`` lists the
root ``g:a:v``; ``repo.expected`` is the answer of an explorer with default settings
(scopes compile and runtime, no optional dependencies, no depth limit): units
``maven.pom:g:a:v`` at their shortest depth, their ``.pom`` (fetched) and main artifact
(``deferred=True``), and ``(parent, child, relation)`` edges, relation being
``parent``, ``import``, ``relocation`` or ``dependency:<scope>``. An effective POM refers
to every BOM its model imports, including imports inherited from its parents, and has
the dependencies inherited from its parents. See `stagekit.testing.maven_build` for the
exclusion semantics: the answer is the union over every path, so it is independent of
the exploration order.
"""

from __future__ import annotations

from stagekit.testing.maven_build import GenDep, GenPom, MavenRepo, MavenRepoBuilder
from stagekit.testing.maven_scenarios import (
    add_bom,
    add_conflict,
    add_cycle,
    add_deep,
    add_diamond,
    add_exclusions,
    add_parent_chain,
    add_per_path_exclusions,
    add_range,
    add_relocation,
    add_wide,
)

__all__ = [
    "GenDep",
    "GenPom",
    "MavenRepo",
    "MavenRepoBuilder",
    "make_maven_repo",
    "scenario_bom",
    "scenario_cycle",
    "scenario_deep",
    "scenario_diamond",
    "scenario_exclusions",
    "scenario_parent_chain",
    "scenario_per_path_exclusions",
    "scenario_range",
    "scenario_relocation",
    "scenario_wide",
]


def make_maven_repo(
    *,
    n_poms: int = 0,
    depth: int = 4,
    fanout: int = 3,
    jar_size: int = 256,
    seed: int = 0,
    parent_chain: int = 0,
    bom: bool = False,
    diamond: bool = False,
    cycle: bool = False,
    relocation: bool = False,
    version_range: bool = False,
    exclusions: bool = False,
    per_path_exclusions: bool = False,
    deep: int = 0,
    conflict: bool = False,
    optional_missing: bool = True,
    test_scoped: bool = True,
    with_sidecars: bool = True,
    prefix: str = "",
) -> MavenRepo:
    """A repository of a random layered graph of ``n_poms`` POMs plus the chosen scenarios.

    The random part (root ``org.stagekit.wide:node-0:1.0``, when ``n_poms`` > 0) has
    ``depth`` layers below the root; each POM depends on up to ``fanout`` POMs of the next
    layer, half of them inherit a parent that imports a BOM managing shared libraries, and
    versions are written literally, as ``${project.version}`` or from parent properties.
    ``cycle`` adds back edges to it; ``optional_missing`` / ``test_scoped`` add optional and
    test/provided dependencies whose POMs are missing (never followed by default).
    ``conflict`` adds one group:artifact reached at two versions (Maven's conflict column).
    Each scenario switch adds that scenario's POMs and root (disjoint groupIds).
    ``jar_size`` is the payload size inside each jar. Same arguments, same bytes.
    """
    b = MavenRepoBuilder(seed=seed, jar_size=jar_size, with_sidecars=with_sidecars,
                         prefix=prefix)
    if n_poms > 0:
        add_wide(b, n_poms, depth=depth, fanout=fanout, back_edges=cycle,
                 optional_missing=optional_missing, test_scoped=test_scoped)
    if parent_chain > 0:
        add_parent_chain(b, parent_chain)
    if bom:
        add_bom(b)
    if diamond:
        add_diamond(b)
    if cycle:
        add_cycle(b)
    if relocation:
        add_relocation(b)
    if version_range:
        add_range(b)
    if exclusions:
        add_exclusions(b)
    if per_path_exclusions:
        add_per_path_exclusions(b)
    if deep > 0:
        add_deep(b, deep)
    if conflict:
        add_conflict(b)
    return b.build()


def scenario_parent_chain(k: int = 5, **kw) -> MavenRepo:
    """A leaf with ``k`` parents; properties/management defined ``k`` levels up are used."""
    return make_maven_repo(parent_chain=k, **kw)


def scenario_bom(**kw) -> MavenRepo:
    """Versions from imported BOMs (own management first, then imports in order)."""
    return make_maven_repo(bom=True, **kw)


def scenario_diamond(**kw) -> MavenRepo:
    """A -> B, A -> C, B -> D, C -> D (runtime), D -> E: D is found once, at depth 2."""
    return make_maven_repo(diamond=True, **kw)


def scenario_cycle(**kw) -> MavenRepo:
    """A -> B -> A through dependencies (and B -> C): discovery must end."""
    return make_maven_repo(cycle=True, **kw)


def scenario_relocation(**kw) -> MavenRepo:
    """A dependency whose POM relocates to another groupId (its own dependencies ignored)."""
    return make_maven_repo(relocation=True, **kw)


def scenario_range(**kw) -> MavenRepo:
    """Dependencies with version ranges, resolved through maven-metadata.xml."""
    return make_maven_repo(version_range=True, **kw)


def scenario_exclusions(**kw) -> MavenRepo:
    """Exclusions (plain, ``*:*``, ``group:*`` and from management) prune subtrees."""
    return make_maven_repo(exclusions=True, **kw)


def scenario_per_path_exclusions(**kw) -> MavenRepo:
    """Two roots whose paths to shared POMs exclude different things: the union is found."""
    return make_maven_repo(per_path_exclusions=True, **kw)


def scenario_deep(n: int = 30, **kw) -> MavenRepo:
    """A chain of ``n`` dependencies: the last POM is at depth ``n``."""
    return make_maven_repo(deep=n, **kw)


def scenario_wide(n_poms: int = 5000, *, depth: int = 6, fanout: int = 4, **kw) -> MavenRepo:
    """The random layered graph alone, for scale (5,000 POMs generate in seconds)."""
    return make_maven_repo(n_poms=n_poms, depth=depth, fanout=fanout, **kw)
