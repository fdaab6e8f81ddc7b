"""The chosen releases of a generated index, computed as a fixpoint from scratch.

Restated independently of `stagekit.remotes.pypi.fixpoint` (which keeps it up to date
as requirements arrive): given a choice per project, walk the requirements from the roots
(each leads to the chosen version when it allows it, else to the newest it allows alone),
collect the requirements met, and choose again per project the newest version satisfying
all of them (none when they conflict). Repeat until the choice no longer changes. The
answer is the walk of the last round: releases with their shortest depth, and edges.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from stagekit.testing.pypi_repo import normalize

if TYPE_CHECKING:
    from stagekit.testing.pypi_repo import GenRelease, PyPIRepo

__all__ = ["Chosen", "fixpoint"]

MAX_ROUNDS = 100


@dataclass(slots=True)
class Chosen:
    """The answer: release keys with their shortest depth, and (parent, child, requirement)."""

    depths: dict[str, int] = field(default_factory=dict)
    edges: set[tuple[str, str, str]] = field(default_factory=set)


def _valid(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def fixpoint(repo: PyPIRepo, env: Mapping[str, str],
             pick: Callable[[str, SpecifierSet], Version | None],
             follow: Callable[[Requirement, Mapping[str, str], set[str]], bool]) -> Chosen:
    """The chosen releases of ``repo`` (see module); `RuntimeError` if it does not settle."""
    releases: dict[tuple[str, Version], GenRelease] = {
        (r.project, Version(r.version)): r for r in repo.releases}
    roots = [req for text in repo.roots if (req := _valid(text)) is not None
             and follow(req, env, set())]
    choice: dict[str, Version | None] = {}
    for _round in range(MAX_ROUNDS):
        answer, specs = _walk(roots, choice, releases, repo.unknown, env, pick, follow)
        again: dict[str, Version | None] = {}
        for project, found in specs.items():
            together = SpecifierSet()
            for spec in found:
                together &= spec
            again[project] = pick(project, together)
        if again == choice:
            return answer
        choice = again
    raise RuntimeError(f"the requirements of this index do not settle in {MAX_ROUNDS} rounds")


def _walk(roots: list[Requirement], choice: Mapping[str, Version | None],
          releases: Mapping[tuple[str, Version], GenRelease], unknown: set[str],
          env: Mapping[str, str],
          pick: Callable[[str, SpecifierSet], Version | None],
          follow: Callable[[Requirement, Mapping[str, str], set[str]], bool],
          ) -> tuple[Chosen, dict[str, list[SpecifierSet]]]:
    answer = Chosen()
    specs: dict[str, list[SpecifierSet]] = {}
    extras: dict[str, set[str]] = {}
    followed: set[tuple[str, str]] = set()  # (release key, requirement) already walked
    queue: deque[tuple[str | None, Requirement, int]] = deque((None, r, 0) for r in roots)
    while queue:
        parent, req, depth = queue.popleft()
        project = normalize(req.name)
        specs.setdefault(project, []).append(req.specifier)
        chosen = choice.get(project)
        version = (chosen if chosen is not None and req.specifier.contains(chosen,
                                                                           prereleases=True)
                   else pick(project, req.specifier))
        if version is None:
            continue
        rel = releases[(project, version)]
        key = rel.key
        if parent is not None:
            answer.edges.add((parent, key, str(req)))
        answer.depths[key] = min(answer.depths.get(key, depth), depth)
        have = extras.setdefault(key, set())
        have |= {e.lower() for e in req.extras}
        if key in unknown:
            continue
        for line in rel.requires:
            child = _valid(line)
            if child is None or (key, line) in followed or not follow(child, env, have):
                continue
            followed.add((key, line))
            queue.append((key, child, answer.depths[key] + 1))
    return answer, specs
