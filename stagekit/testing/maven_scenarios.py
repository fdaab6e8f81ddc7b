"""The Maven fixture scenarios: each adds its POMs, edges and root to a `MavenRepoBuilder`.

Every scenario writes POMs the way real projects do (inherited groupId/version,
properties, management, imports...) and records, by hand, the edges they mean.
"""

from __future__ import annotations

import itertools

from stagekit.testing.maven_build import GenDep, GenPom, MavenRepoBuilder

__all__ = [
    "add_bom",
    "add_conflict",
    "add_cycle",
    "add_deep",
    "add_diamond",
    "add_exclusions",
    "add_parent_chain",
    "add_per_path_exclusions",
    "add_range",
    "add_relocation",
    "add_wide",
]

_SAME = object()
MISSING = "org.stagekit.missing"


def _pom(b: MavenRepoBuilder, gav: str, **kw) -> GenPom:
    g, a, v = gav.split(":")
    return b.add(GenPom(g, a, v, **kw))


def _dep(p: GenPom, target: str, version: object = _SAME, *, scope: str | None = None,
         eff_scope: str | None = None, optional: bool = False,
         exclusions: tuple[tuple[str, str], ...] = (), group: str | None = None,
         artifact: str | None = None, edge_excl: tuple[tuple[str, str], ...] | None = None,
         edge: bool = True) -> None:
    """Write a dependency on ``target`` (g:a:v, as resolved) and record the edge it means."""
    g, a, v = target.split(":")
    p.deps.append(GenDep(group or g, artifact or a, v if version is _SAME else version,  # type: ignore[arg-type]
                         scope, None, optional, exclusions))
    if edge:
        p.edge(target, f"dependency:{eff_scope or scope or 'compile'}", optional=optional,
               exclusions=exclusions if edge_excl is None else edge_excl)


def add_parent_chain(b: MavenRepoBuilder, k: int) -> None:
    """``leaf`` -> ``chain-parent-1`` -> ... -> ``chain-parent-k`` (root ``leaf``)."""
    g, libs = "org.stagekit.chain", "org.stagekit.chain.libs"
    top = _pom(b, f"{g}:chain-parent-{k}:5", packaging="pom", properties={
        "base.version": "2", "lib.version": "${base.version}.1", "lib.group": libs,
        "lib2.version": "1.0", "managed.version": "3.0"})
    top.managed += [GenDep("${lib.group}", "lib-managed", "${managed.version}"),
                    GenDep(g, "sibling", "${project.version}")]
    top.deps += [GenDep(libs, "lib-log", "1.0"),
                 GenDep(MISSING, "test-only", "4.13", scope="test")]
    chain = [top]
    for i in range(k - 1, 0, -1):
        p = _pom(b, f"{g}:chain-parent-{i}:5", packaging="pom", parent=chain[-1].gav,
                 write_group=False, write_version=False)
        chain.append(p)
    lib2 = "1.0"
    if k >= 2:
        chain[-1].properties["lib2.version"] = "1.1"
        lib2 = "1.1"
    leaf = _pom(b, f"{g}:leaf:1.0", parent=chain[-1].gav, write_group=False)
    chain.append(leaf)
    for child, parent in zip(chain[1:], chain[:-1], strict=True):
        child.edge(parent.gav, "parent")
    for p in chain:  # the top parent's dependencies are inherited by every POM below it
        p.edge(f"{libs}:lib-log:1.0", "dependency:compile")
        p.edge(f"{MISSING}:test-only:4.13", "dependency:test")
    _dep(leaf, f"{libs}:lib-a:2.1", "${lib.version}", group="${lib.group}")
    _dep(leaf, f"{libs}:lib-managed:3.0", None)
    _dep(leaf, f"{libs}:lib-b:{lib2}", "${lib2.version}", scope="runtime")
    _dep(leaf, f"{g}:sibling:1.0", None, group="${project.groupId}")  # managed in child context
    _dep(leaf, f"{MISSING}:servlet-api:3.1", scope="provided")
    for gav in (f"{libs}:lib-a:2.1", f"{libs}:lib-managed:3.0", f"{libs}:lib-b:{lib2}",
                f"{libs}:lib-log:1.0", f"{g}:sibling:1.0"):
        _pom(b, gav)
    b.roots.append(leaf.gav)


def add_bom(b: MavenRepoBuilder) -> None:
    """``app`` imports two BOMs; one BOM has a parent and imports a third (root ``app``)."""
    g, libs = "org.stagekit.bom", "org.stagekit.bom.libs"
    _pom(b, f"{g}:bom-parent:1.0", packaging="pom", properties={"y.version": "2.0"})
    platform = _pom(b, f"{g}:platform-bom:1.0", packaging="pom", parent=f"{g}:bom-parent:1.0",
                    write_group=False, write_version=False)
    platform.managed += [GenDep(libs, "lib-x", "9.9"), GenDep(libs, "lib-y", "${y.version}"),
                         GenDep(g, "core-bom", "1.0", scope="import", type="pom")]
    platform.edge(f"{g}:bom-parent:1.0", "parent")
    platform.edge(f"{g}:core-bom:1.0", "import")
    core = _pom(b, f"{g}:core-bom:1.0", packaging="pom")
    core.managed += [GenDep(libs, "lib-z", "1.2"), GenDep(libs, "lib-y", "7.7"),
                     GenDep(libs, "lib-w", "1.0", scope="runtime")]
    other = _pom(b, f"{g}:other-bom:1.0", packaging="pom")
    other.managed += [GenDep(libs, "lib-y", "3.0"), GenDep(libs, "lib-v", "4.0")]
    app = _pom(b, f"{g}:app:1.0")
    app.managed += [GenDep(libs, "lib-x", "1.5"),
                    GenDep(g, "platform-bom", "1.0", scope="import", type="pom"),
                    GenDep(g, "other-bom", "1.0", scope="import", type="pom")]
    app.edge(f"{g}:platform-bom:1.0", "import")
    app.edge(f"{g}:other-bom:1.0", "import")
    _dep(app, f"{libs}:lib-x:1.5", None)  # own management beats the BOM's 9.9
    _dep(app, f"{libs}:lib-y:2.0", None)  # platform-bom's own entry beats its import and other-bom
    _dep(app, f"{libs}:lib-z:1.2", None)  # through platform-bom's import of core-bom
    _dep(app, f"{libs}:lib-w:1.0", None, eff_scope="runtime")  # scope from management
    _dep(app, f"{libs}:lib-v:4.0", None)
    for gav in ("lib-x:1.5", "lib-y:2.0", "lib-z:1.2", "lib-w:1.0", "lib-v:4.0"):
        _pom(b, f"{libs}:{gav}")
    b.roots.append(app.gav)


def add_diamond(b: MavenRepoBuilder) -> None:
    """a -> b, a -> c, b -> d, c -> d (runtime), d -> e; some POMs without namespace."""
    g = "org.stagekit.diamond"
    a = _pom(b, f"{g}:a:1.0")
    pb = _pom(b, f"{g}:b:1.0", namespace=False)
    pc = _pom(b, f"{g}:c:1.0", packaging="bundle")
    d = _pom(b, f"{g}:d:1.0", namespace=False)
    _pom(b, f"{g}:e:1.0")
    _dep(a, f"{g}:b:1.0")
    _dep(a, f"{g}:c:1.0")
    _dep(a, f"{MISSING}:opt-a:1.0", optional=True)
    _dep(pb, f"{g}:d:1.0", "${project.version}")
    _dep(pc, f"{g}:d:1.0", scope="runtime")
    _dep(d, f"{g}:e:1.0")
    b.roots.append(a.gav)


def add_cycle(b: MavenRepoBuilder) -> None:
    """a -> b -> a, b -> c (dependencies)."""
    g = "org.stagekit.cycle"
    a, pb = _pom(b, f"{g}:a:1.0"), _pom(b, f"{g}:b:1.0")
    _pom(b, f"{g}:c:1.0")
    _dep(a, f"{g}:b:1.0")
    _dep(pb, f"{g}:a:1.0")
    _dep(pb, f"{g}:c:1.0")
    b.roots.append(a.gav)


def add_relocation(b: MavenRepoBuilder) -> None:
    """app -> old:widget (relocated to new:widget, version defaulted) -> new:widget-core."""
    old, new = "org.stagekit.old", "org.stagekit.new"
    app = _pom(b, "org.stagekit.reloc:app:1.0")
    _dep(app, f"{old}:widget:1.0")
    moved = _pom(b, f"{old}:widget:1.0", packaging="pom", relocation=(new, None, None))
    _dep(moved, f"{MISSING}:ghost:1.0", edge=False)  # ignored: the POM is relocated
    moved.edge(f"{new}:widget:1.0", "relocation")
    widget = _pom(b, f"{new}:widget:1.0")
    _dep(widget, f"{new}:widget-core:1.0")
    _pom(b, f"{new}:widget-core:1.0")
    b.roots.append(app.gav)


def add_range(b: MavenRepoBuilder) -> None:
    """app -> lib:[1.0,2.0) (1.10), other:(,1.0],[1.2,) (0.5), pinned:[1.2] (1.2)."""
    g = "org.stagekit.range"
    app = _pom(b, f"{g}:app:1.0")
    for artifact, versions in (("lib", ("0.9", "1.0", "1.5", "1.10", "2.0", "2.1")),
                               ("other", ("0.5", "1.1")), ("pinned", ("1.1", "1.2", "1.3"))):
        for v in versions:
            _pom(b, f"{g}:{artifact}:{v}")
    _dep(app, f"{g}:lib:1.10", "[1.0,2.0)")
    _dep(app, f"{g}:other:0.5", "(,1.0],[1.2,)")
    _dep(app, f"{g}:pinned:1.2", "[1.2]")
    b.roots.append(app.gav)


def add_exclusions(b: MavenRepoBuilder) -> None:
    """Exclusions prune only the subtree of the dependency declaring them.

    app -> a (excludes c) -> b -> {c, d}: c not followed. app -> e (excludes ``*:*``) -> f:
    f not followed. app -> x (exclusion of y from app's management) -> {y, z}: y not
    followed. app -> g (excludes ``org.stagekit.excl.other:*``) -> {other:o1, h}: o1 not
    followed. c, f, y and o1 exist but are reachable only through these paths.
    """
    g, other = "org.stagekit.excl", "org.stagekit.excl.other"
    app = _pom(b, f"{g}:app:1.0")
    app.managed.append(GenDep(g, "x", "1.0", exclusions=((g, "y"),)))
    _dep(app, f"{g}:a:1.0", exclusions=((g, "c"),))
    _dep(app, f"{g}:e:1.0", exclusions=(("*", "*"),))
    _dep(app, f"{g}:x:1.0", None, edge_excl=((g, "y"),))
    _dep(app, f"{g}:g:1.0", exclusions=((other, "*"),))
    pa, pb, pe, px, pg = (_pom(b, f"{g}:{n}:1.0") for n in ("a", "b", "e", "x", "g"))
    for n in ("c", "d", "f", "y", "z", "h"):
        _pom(b, f"{g}:{n}:1.0")
    _pom(b, f"{other}:o1:1.0")
    _dep(pa, f"{g}:b:1.0")
    _dep(pb, f"{g}:c:1.0")
    _dep(pb, f"{g}:d:1.0")
    _dep(pe, f"{g}:f:1.0")
    _dep(px, f"{g}:y:1.0")
    _dep(px, f"{g}:z:1.0")
    _dep(pg, f"{other}:o1:1.0")
    _dep(pg, f"{g}:h:1.0")
    b.roots.append(app.gav)


def add_per_path_exclusions(b: MavenRepoBuilder) -> None:
    """Two roots reach the same POMs by paths that exclude different things.

    ``app-1 -> core`` excludes never, c1 and e; ``app-2 -> shim -> core`` excludes never
    and c1; ``app-2 -> link -> hop -> core`` excludes only never. ``core -> mid -> {c1,
    d, e, never}``, ``e -> e1``: the union over the paths has c1, d, e and e1, never not.
    ``app-1 -> tool`` excludes ``*:*`` while ``app-2 -> hop2 -> hop3 -> tool`` excludes
    nothing: tool stays at depth 1 and has its child tool-dep (depth 2) from the long path.
    """
    g = "org.stagekit.paths"

    def x(*names: str) -> tuple[tuple[str, str], ...]:
        return tuple((g, n) for n in names)

    app1, app2 = _pom(b, f"{g}:app-1:1.0"), _pom(b, f"{g}:app-2:1.0")
    names = ("core", "shim", "link", "hop", "mid", "c1", "d", "e", "e1", "never", "tool",
             "tool-dep", "hop2", "hop3")
    p = {n: _pom(b, f"{g}:{n}:1.0") for n in names}
    _dep(app1, f"{g}:core:1.0", exclusions=x("never", "c1", "e"))
    _dep(app1, f"{g}:tool:1.0", exclusions=(("*", "*"),))
    _dep(app2, f"{g}:shim:1.0", exclusions=x("never", "c1"))
    _dep(app2, f"{g}:link:1.0", exclusions=x("never"))
    _dep(app2, f"{g}:hop2:1.0")
    _dep(p["shim"], f"{g}:core:1.0")
    _dep(p["link"], f"{g}:hop:1.0")
    _dep(p["hop"], f"{g}:core:1.0")
    _dep(p["core"], f"{g}:mid:1.0")
    for n in ("c1", "d", "e", "never"):
        _dep(p["mid"], f"{g}:{n}:1.0")
    _dep(p["e"], f"{g}:e1:1.0")
    _dep(p["hop2"], f"{g}:hop3:1.0")
    _dep(p["hop3"], f"{g}:tool:1.0")
    _dep(p["tool"], f"{g}:tool-dep:1.0")
    b.roots += [app1.gav, app2.gav]


def add_deep(b: MavenRepoBuilder, n: int) -> None:
    """node-0 -> node-1 -> ... -> node-n, versions written as ``${project.version}``."""
    g = "org.stagekit.deep"
    poms = [_pom(b, f"{g}:node-{i}:1.0") for i in range(n + 1)]
    for p, nxt in itertools.pairwise(poms):
        _dep(p, nxt.gav, "${project.version}")
    b.roots.append(poms[0].gav)


def add_wide(b: MavenRepoBuilder, n_poms: int, *, depth: int, fanout: int,
             back_edges: bool, optional_missing: bool, test_scoped: bool) -> None:
    """A random layered DAG of about ``n_poms`` POMs under ``org.stagekit.wide:node-0:1.0``."""
    g, common = "org.stagekit.wide", "org.stagekit.wide.common"
    rng = b.rng
    depth = max(depth, 1)
    n_common = max(0, min(20, (n_poms - 3) // 10))
    n_nodes = max(1, n_poms - 2 - n_common)
    parent = _pom(b, f"{g}:wide-parent:1.0", packaging="pom", properties={"wide.version": "1.0"})
    parent.managed.append(GenDep(g, "wide-bom", "${wide.version}", scope="import", type="pom"))
    parent.edge(f"{g}:wide-bom:1.0", "import")
    bom = _pom(b, f"{g}:wide-bom:1.0", packaging="pom")
    for j in range(n_common):
        bom.managed.append(GenDep(common, f"common-{j}", "1.0"))
        _pom(b, f"{common}:common-{j}:1.0")
    layers: list[list[GenPom]] = [[] for _ in range(depth + 1)]
    for i in range(n_nodes):
        layer = 0 if i == 0 else 1 + (i - 1) * depth // max(n_nodes - 1, 1)
        with_parent = rng.random() < 0.5
        packaging = rng.choice(("jar", "jar", "jar", "bundle", "pom"))
        p = _pom(b, f"{g}:node-{i}:1.0", packaging=packaging,
                 parent=parent.gav if with_parent else None,
                 write_group=not with_parent or rng.random() < 0.5,
                 write_version=not with_parent or rng.random() < 0.5)
        if with_parent:
            p.edge(parent.gav, "parent")
            p.edge(f"{g}:wide-bom:1.0", "import")  # inherited import
        layers[layer].append(p)
    layers = [layer for layer in layers if layer]

    def depend(p: GenPom, target: GenPom) -> None:
        has_parent = p.parent is not None
        written = rng.choice(("1.0", "${project.version}", "${wide.version}" if has_parent
                              else "1.0"))
        _dep(p, target.gav, written, scope=rng.choice((None, None, "compile", "runtime")))

    targets: dict[str, set[str]] = {}
    for lower_layer, upper_layer in zip(layers[1:], layers[:-1], strict=True):
        for p in lower_layer:
            q = rng.choice(upper_layer)
            targets.setdefault(q.gav, set()).add(p.gav)
            depend(q, p)
    for index, poms in enumerate(layers[:-1]):
        nxt = layers[index + 1]
        for p in poms:
            mine = targets.setdefault(p.gav, set())
            for q in rng.sample(nxt, min(len(nxt), max(0, fanout - len(mine)))):
                if q.gav not in mine:
                    mine.add(q.gav)
                    depend(p, q)
    for index, poms in enumerate(layers):
        for p in poms:
            if back_edges and index > 1 and rng.random() < 0.05:
                q = rng.choice(layers[rng.randrange(index)])
                mine = targets.setdefault(p.gav, set())
                if q.gav not in mine and q is not p:
                    mine.add(q.gav)
                    depend(p, q)
            if n_common and rng.random() < 0.3:
                c = f"{common}:common-{rng.randrange(n_common)}:1.0"
                mine = targets.setdefault(p.gav, set())
                if c not in mine:
                    mine.add(c)
                    _dep(p, c, None if p.parent else "1.0")
            if test_scoped and rng.random() < 0.1:
                _dep(p, f"{MISSING}:test-lib-{rng.randrange(50)}:1.0",
                     scope=rng.choice(("test", "provided")))
            if optional_missing and rng.random() < 0.1:
                _dep(p, f"{MISSING}:opt-lib-{rng.randrange(50)}:1.0", optional=True)
    b.roots.append(layers[0][0].gav)


def add_conflict(b: MavenRepoBuilder) -> None:
    """app -> lib-a -> util:1.0 and app -> lib-b -> util:2.0: one g:a at two versions."""
    g = "org.stagekit.conflict"
    app = _pom(b, f"{g}:app:1.0")
    lib_a, lib_b = _pom(b, f"{g}:lib-a:1.0"), _pom(b, f"{g}:lib-b:1.0")
    _pom(b, f"{g}:util:1.0")
    _pom(b, f"{g}:util:2.0")
    _dep(app, f"{g}:lib-a:1.0")
    _dep(app, f"{g}:lib-b:1.0")
    _dep(lib_a, f"{g}:util:1.0")
    _dep(lib_b, f"{g}:util:2.0")
    b.roots.append(app.gav)
