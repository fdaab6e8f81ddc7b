"""Scenarios of generated Python package indexes; each adds disjoint projects and a root.

Every scenario's chosen releases (``repo.chosen``) are independent of the order in which
an explorer meets requirements. So is the whole graph (``repo.expected``, which also
holds superseded releases) except in `add_order`, written for an explorer to meet its
requirements in either order (with latency on one subtree): ``expected`` is then the
graph of the breadth-first order, where the narrowing requirement comes first.
"""

from __future__ import annotations

import itertools
import random

from stagekit.testing.pypi_build import PyPIRepoBuilder

__all__ = [
    "add_conflict",
    "add_cycle",
    "add_extras",
    "add_markers",
    "add_order",
    "add_prereleases",
    "add_requires_python",
    "add_sdists",
    "add_supersede",
    "add_tree",
    "add_yanked",
]


def add_markers(b: PyPIRepoBuilder) -> None:
    """``mk-app``: versions by specifier, markers false everywhere here, true everywhere."""
    b.release("mk-app", "1.0", ["mk-lib>=1.1", 'mk-win; sys_platform == "win32"',
                                'mk-py2; python_version < "3"', 'mk-any; python_version >= "3"',
                                "Mk_Display.Name"])
    for v in ("1.0", "1.1", "1.5", "2.0"):
        b.release("mk-lib", v, ["mk-leaf"] if v == "2.0" else [])
    b.release("mk-leaf", "0.1")
    b.release("mk-win", "1.0")
    b.release("mk-py2", "1.0")
    b.release("mk-any", "3.0")
    b.release("Mk_Display.Name", "1.0")  # required by its non-normalized name
    b.root("mk-app")


def add_extras(b: PyPIRepoBuilder) -> None:
    """``ex-root`` -> ``ex-b[x]``, ``ex-c`` -> ``ex-b[y]``: one ``ex-b`` with both extras."""
    b.release("ex-root", "1.0", ["ex-b[x]>=1", "ex-c"])
    b.release("ex-c", "1.0", ["ex-b[y]"])
    b.release("ex-b", "1.0", ['ex-d; extra == "x"', 'ex-e; extra == "y"',
                              'ex-f; extra == "z"', "ex-g"])
    for name in ("ex-d", "ex-e", "ex-f", "ex-g"):
        b.release(name, "1.0")
    b.root("ex-root")


def add_cycle(b: PyPIRepoBuilder) -> None:
    """``cy-a`` -> ``cy-b`` -> ``cy-c`` -> ``cy-a``: discovery ends."""
    b.release("cy-a", "1.0", ["cy-b"])
    b.release("cy-b", "1.0", ["cy-c"])
    b.release("cy-c", "1.0", ["cy-a>=1"])
    b.root("cy-a")


def add_yanked(b: PyPIRepoBuilder) -> None:
    """Yanked newest versions are skipped; an exact pin still selects a yanked one."""
    b.release("yk-root", "1.0", ["yk-lib", "yk-pin==3.0"])
    b.release("yk-lib", "1.0")
    b.release("yk-lib", "2.0", yanked="broken build")
    b.release("yk-pin", "2.0")
    b.release("yk-pin", "3.0", yanked="")
    b.root("yk-root")


def add_prereleases(b: PyPIRepoBuilder) -> None:
    """Finals over pre-releases; a pre-release when the only one or named."""
    b.release("pre-root", "1.0", ["pre-lib", "pre-only", "pre-asked>=2.0b1"])
    b.release("pre-lib", "1.0")
    b.release("pre-lib", "2.0b1")
    b.release("pre-only", "1.0a1")
    b.release("pre-asked", "1.0")
    b.release("pre-asked", "2.0b2")
    b.root("pre-root")


def add_requires_python(b: PyPIRepoBuilder) -> None:
    """The newest ``rp-lib`` needs a Python that does not exist: the previous one is used."""
    b.release("rp-root", "1.0", ["rp-lib"])
    b.release("rp-lib", "1.0", requires_python=">=3.8")
    b.release("rp-lib", "2.0", requires_python=">=4")
    b.root("rp-root")


def add_supersede(b: PyPIRepoBuilder) -> None:
    """``sup-a`` -> ``sup-c>=1`` (2.0), then ``sup-b`` -> ``sup-c<2``: 1.0 supersedes 2.0."""
    b.release("sup-a", "1.0", ["sup-b", "sup-c>=1"])
    b.release("sup-b", "1.0", ["sup-c<2"])
    b.release("sup-c", "1.0")
    b.release("sup-c", "2.0")
    b.root("sup-a")


def add_conflict(b: PyPIRepoBuilder) -> None:
    """``con-a`` -> ``con-c==1.0``, ``con-b`` -> ``con-c==2.0``: both, marked as a conflict."""
    b.release("con-a", "1.0", ["con-b", "con-c==1.0"])
    b.release("con-b", "1.0", ["con-c==2.0"])
    b.release("con-c", "1.0")
    b.release("con-c", "2.0")
    b.root("con-a")


def add_order(b: PyPIRepoBuilder) -> None:
    """Two subtrees of ``or-app`` constrain ``or-shared`` differently.

    ``or-left`` -> ``or-mid`` -> ``or-shared>=1`` and ``or-right`` -> ``or-shared<2``:
    the answer is ``or-shared`` 1.0. Met first, ``or-shared>=1`` picks 2.0, whose
    requirements (``or-extra`` -> ``or-deep``, and ``or-pinned<2``, which narrows the
    root's ``or-pinned`` to 1.0) stop counting once ``or-shared<2`` arrives: ``or-pinned``
    goes back to 2.0, and ``or-extra``/``or-deep`` are not chosen.
    """
    b.release("or-app", "1.0", ["or-left", "or-right", "or-pinned"])
    b.release("or-left", "1.0", ["or-mid"])
    b.release("or-mid", "1.0", ["or-shared>=1"])
    b.release("or-right", "1.0", ["or-shared<2"])
    b.release("or-shared", "1.0", ["or-common"])
    b.release("or-shared", "2.0", ["or-extra", "or-pinned<2"])
    b.release("or-common", "1.0")
    b.release("or-extra", "1.0", ["or-deep"])
    b.release("or-deep", "1.0")
    b.release("or-pinned", "1.0")
    b.release("or-pinned", "2.0")
    b.root("or-app")


def add_sdists(b: PyPIRepoBuilder) -> None:
    """Sdist-only releases: Metadata 2.2 states deps; 2.1 and dynamic ones are unknown."""
    b.release("sd-root", "1.0", ["sd-new", "sd-old", "sd-dyn"])
    b.release("sd-new", "1.0", ["sd-leaf"], wheel=False)
    b.release("sd-old", "1.0", ["sd-hidden"], wheel=False, sdist_metadata_version="2.1")
    b.release("sd-dyn", "1.0", ["sd-hidden"], wheel=False, dynamic_requires=True)
    b.release("sd-leaf", "1.0")
    b.release("sd-hidden", "1.0")
    b.root("sd-root")


def add_tree(b: PyPIRepoBuilder, n_releases: int, *, depth: int = 6, fanout: int = 4,
             versions: int = 2, payload: int = 0, seed: int = 0) -> None:
    """A random layered graph of ``n_releases`` chosen releases under root ``tree-0``.

    Projects ``tree-<i>`` have ``versions`` releases each (the newest is chosen, so the
    index lists ``n_releases * versions`` releases); each
    depends on up to ``fanout`` projects of the next layer with ``>=1.0`` and, for one in
    three, a marker that is true everywhere. Every project is reachable.
    """
    rng = random.Random(seed)
    n_projects = max(1, n_releases)
    layers: list[list[int]] = [[0]]
    rest = list(range(1, n_projects))
    per_layer = max(1, len(rest) // max(1, depth))
    while rest:
        layers.append(rest[:per_layer])
        rest = rest[per_layer:]
    deps: dict[int, list[str]] = {i: [] for i in range(n_projects)}
    for upper, lower in itertools.pairwise(layers):
        for i, child in enumerate(lower):  # every child gets one parent
            deps[upper[i % len(upper)]].append(f"tree-{child}>=1.0")
        for parent in upper:
            for child in rng.sample(lower, min(len(lower), rng.randint(0, fanout - 1))):
                req = f"tree-{child}>=1.0"
                if req not in deps[parent]:
                    deps[parent].append(req + ('; python_version >= "3"'
                                               if rng.random() < 0.33 else ""))
    for i in range(n_projects):
        for v in range(versions):
            newest = v == versions - 1
            b.release(f"tree-{i}", f"1.{v}", deps[i] if newest else [], payload=payload,
                      sdist=False)
    b.root("tree-0")
