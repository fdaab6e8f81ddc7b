"""`Fixpoint`: the same chosen releases whatever order the metadata of releases arrives in."""

from __future__ import annotations

import random

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from stagekit.remotes.pypi import fixpoint as fixpoint_module
from stagekit.remotes.pypi.choose import choose_version
from stagekit.remotes.pypi.fixpoint import Fixpoint
from stagekit.remotes.pypi.simple import DistFile, ProjectPage

PY = "3.11.4"

World = dict[str, dict[str, list[str]]]  # project -> version -> Requires-Dist


def _page(name: str, versions: dict[str, list[str]]) -> ProjectPage:
    files = tuple(DistFile(f"{name}-{v}.tar.gz", f"https://i.test/{name}-{v}.tar.gz", Version(v))
                  for v in versions)
    return ProjectPage(name, f"https://i.test/simple/{name}/", "1.0", files)


def _choose(page: ProjectPage, spec: SpecifierSet) -> Version | None:
    return choose_version(page, spec, python_version=PY)


def drive(world: World, roots: list[str], seed: int) -> Fixpoint:
    """Explore as the engine does (every declared release once), in a random order."""
    fp = Fixpoint(_choose, lambda n, v: f"{n}:{v}", {"python_version": "3.11"})
    for name, versions in world.items():
        fp.page(_page(name, versions))
    for i, text in enumerate(roots):
        fp.root(i, Requirement(text))
    rng = random.Random(seed)
    declared: set[tuple[str, str]] = set()
    explored: set[tuple[str, str]] = set()
    while True:
        edges, _unmet = fp.settle()
        declared |= {(e.project, str(e.version)) for e in edges}
        todo = sorted(declared - explored)
        if not todo:
            return fp
        name, version = rng.choice(todo)
        explored.add((name, version))
        fp.metadata(name, version, [Requirement(r) for r in world[name][version]])


# or-shared>=1 (left) and or-shared<2 (right); 2.0 narrows or-pinned and pulls a cycle
# and an extra that must all stop counting once 2.0 is superseded.
WORLD: World = {
    "app": {"1.0": ["left", "right", "pinned", "ext"]},
    "left": {"1.0": ["mid"]},
    "mid": {"1.0": ["shared>=1"]},
    "right": {"1.0": ["shared<2"]},
    "shared": {"1.0": ["common"], "2.0": ["cyc-a", "pinned<2", "ext[more]"]},
    "cyc-a": {"1.0": ["cyc-b"]},
    "cyc-b": {"1.0": ["cyc-a", "pinned<1.5"]},
    "pinned": {"1.0": [], "2.0": []},
    "common": {"1.0": []},
    "ext": {"1.0": ['only-more; extra == "more"']},
    "only-more": {"1.0": []},
}
ANSWER = {"app:1.0": 0, "left:1.0": 1, "right:1.0": 1, "pinned:2.0": 1, "ext:1.0": 1,
          "mid:1.0": 2, "shared:1.0": 2, "common:1.0": 3}


@pytest.mark.parametrize("seed", range(40))
def test_any_order_of_arrival_gives_the_one_answer(seed):
    fp = drive(WORLD, ["app"], seed)
    depths, edges = fp.answer()
    assert depths == ANSWER
    assert ("right:1.0", "shared:1.0", "shared<2") in edges
    assert ("mid:1.0", "shared:1.0", "shared>=1") in edges
    assert ("app:1.0", "pinned:2.0", "pinned") in edges
    assert len(edges) == 8
    assert {f"{n}:{v}" for n, v in fp.live()} == set(ANSWER)
    fp.finish()
    assert fp.conflicts == {}
    if ("shared", "2.0") in fp.releases:  # this order met shared>=1 first
        assert fp.superseded[("shared", "2.0")] == "1.0"


def test_conflicts_point_each_requirement_at_its_own_newest():
    world: World = {"app": {"1.0": ["a", "b"]}, "a": {"1.0": ["c==1.0"]},
                    "b": {"1.0": ["c==2.0"]}, "c": {"1.0": [], "2.0": []}}
    for seed in range(5):
        fp = drive(world, ["app"], seed)
        depths, edges = fp.answer()
        assert {"c:1.0", "c:2.0"} <= set(depths)
        assert {("a:1.0", "c:1.0", "c==1.0"), ("b:1.0", "c:2.0", "c==2.0")} <= edges
        assert set(fp.conflicts) == {("c", "1.0"), ("c", "2.0")}
        assert "a:1.0: c==1.0" in fp.conflicts[("c", "1.0")][0]


def test_a_requirement_nothing_satisfies_is_reported_once():
    fp = Fixpoint(_choose, lambda n, v: f"{n}:{v}", {})
    fp.page(_page("c", {"1.0": []}))
    fp.root(0, Requirement("c>5"))
    edges, unmet = fp.settle()
    assert edges == [] and [str(n.req) for n in unmet] == ["c>5"]
    assert fp.settle() == ([], [])


def test_a_choice_that_never_settles_is_frozen_and_ends():
    # s 2.0 excludes itself: choosing it drops it, dropping it chooses it again.
    world: World = {"s": {"1.0": [], "2.0": ["s<2"]}}
    fp = drive(world, ["s"], 0)
    assert fp.projects["s"].frozen
    assert fp.projects["s"].changes == fixpoint_module.MAX_RECHOICES
    # Frozen, each requirement keeps where it points, and the project is a conflict.
    assert fp.live() == {("s", "1.0"), ("s", "2.0")}
    assert set(fp.conflicts) == {("s", "1.0"), ("s", "2.0")}
