"""The answer of a generated index: what an explorer must find, computed breadth first.

Rules (those of `stagekit.remotes.pypi`, restated here independently of its code):
a requirement whose marker is false for the environment (with the extras its requirer
was reached with) is not followed; a project's version is the newest that satisfies
every requirement met so far (pre-releases only when asked, named by a specifier, or
when nothing else matches; yanked releases only for an exact ``==`` pin; releases whose
Requires-Python excludes the environment are skipped). A requirement the chosen version
does not satisfy either supersedes it (another version satisfies all of them: both stay
in the graph, and every earlier requirement naming the project gains an edge to the new
version) or conflicts (none does: the version it alone would pick is added). A release
reached with a new extra gains the children that extra enables. Depth is the shortest path.

This breadth-first walk is the whole graph an explorer finds when requirements arrive in
that order (scenarios are written so that they do, except `add_order`). The chosen
releases alone, the same in any order, are computed apart as a fixpoint
(`stagekit.testing.pypi_fixpoint`) into ``repo.chosen``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from stagekit.testing.pypi_fixpoint import fixpoint
from stagekit.testing.pypi_repo import expected_artifacts, normalize
from stagekit.testing.repo import Expected, ExpectedUnit

if TYPE_CHECKING:
    from stagekit.testing.pypi_repo import GenRelease, PyPIRepo

__all__ = ["answer"]


def _python_ok(rel: GenRelease, python: str) -> bool:
    return not rel.requires_python or SpecifierSet(rel.requires_python).contains(
        python, prereleases=True)


def _pin(spec: SpecifierSet) -> bool:
    return any(s.operator == "===" or (s.operator == "==" and "*" not in s.version)
               for s in spec)


def _valid(text: str) -> Requirement | None:
    """The requirement, or None for a malformed one (an explorer reports it as failed)."""
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def _follow(req: Requirement, env: Mapping[str, str], extras: set[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({**env, "extra": e}) for e in ("", *sorted(extras)))


def answer(repo: PyPIRepo, *, environment: Mapping[str, str] | None, prereleases: bool,
           metadata_files: bool) -> None:
    """Fill ``repo.expected``, ``repo.unknown``, ``repo.superseded`` and ``repo.conflicts``."""
    env: dict[str, str] = {k: str(v) for k, v in default_environment().items()}
    env.update(environment or {})
    python = env["python_full_version"]
    releases: dict[str, dict[Version, GenRelease]] = {}
    for rel in repo.releases:
        releases.setdefault(rel.project, {})[Version(rel.version)] = rel

    def pick(project: str, spec: SpecifierSet) -> Version | None:
        versions = releases.get(project, {})
        for yanked in (False, True):
            if yanked and not _pin(spec):
                return None
            ok = [v for v, r in versions.items() if r.files and _python_ok(r, python)
                  and (yanked or r.yanked is None)]
            found = list(spec.filter(ok, prereleases=True if prereleases else None))
            if found:
                return max(found)
        return None

    expected = Expected()
    chosen: dict[str, Version] = {}
    reached: dict[str, list[SpecifierSet]] = {}
    requirers: dict[str, list[tuple[str | None, Requirement, int]]] = {}
    extras_of: dict[str, set[str]] = {}
    queue: deque[tuple[str | None, Requirement, int]] = deque(
        (None, req, 0) for r in repo.roots if (req := _valid(r)) is not None)

    def children(rel: GenRelease, extras: set[str], before: set[str] | None) -> list[Requirement]:
        out = []
        for line in rel.requires:
            req = _valid(line)
            if req is None or not _follow(req, env, extras):
                continue
            if before is None or not _follow(req, env, before):
                out.append(req)
        return out

    while queue:
        parent, req, depth = queue.popleft()
        if parent is None and req.marker is not None and not _follow(req, env, set()):
            continue
        project = normalize(req.name)
        earlier = list(requirers.get(project, []))
        requirers.setdefault(project, []).append((parent, req, depth - 1))
        reached.setdefault(project, []).append(req.specifier)
        retarget: list[tuple[str | None, Requirement, int]] = []
        current = chosen.get(project)
        if current is not None and req.specifier.contains(current, prereleases=True):
            version: Version | None = current
        else:
            together = SpecifierSet()
            for s in reached[project]:
                together &= s
            version = pick(project, together)
            if version is not None:
                if current is not None:
                    repo.superseded.add(f"pypi.release:{project}:{current}")
                    retarget = earlier  # their requirements now lead to the new version
                chosen[project] = version
            else:
                version = pick(project, req.specifier)
                if version is None:
                    continue  # an explorer reports this requirement as failed
                chosen.setdefault(project, version)
                repo.conflicts.add(f"pypi.release:{project}:{version}")
                if current is not None:
                    repo.conflicts.add(f"pypi.release:{project}:{current}")
        assert version is not None
        rel = releases[project][version]
        key = rel.key
        if parent is not None:
            expected.edges.add((parent, key, str(req)))
        for earlier_parent, earlier_req, earlier_depth in retarget:
            depth = min(depth, earlier_depth + 1)
            if earlier_parent is not None:
                expected.edges.add((earlier_parent, key, str(earlier_req)))
        extras = {e.lower() for e in req.extras}
        known = key in expected.units
        if not known:
            expected.add_unit(ExpectedUnit(key, "pypi.release", depth, expected_artifacts(
                rel, metadata_files=metadata_files, files=list(rel.files))))
            extras_of[key] = set(extras)
            if not rel.wheel and (rel.dynamic_requires or
                                  Version(rel.sdist_metadata_version) < Version("2.2")):
                repo.unknown.add(key)
                continue
            queue.extend((key, child, depth + 1) for child in children(rel, extras, None))
            continue
        expected.units[key].depth = min(expected.units[key].depth, depth)
        new = extras - extras_of[key]
        if new and key not in repo.unknown:
            before = set(extras_of[key])
            extras_of[key] |= new
            queue.extend((key, child, expected.units[key].depth + 1)
                         for child in children(rel, extras_of[key], before))
    repo.expected = expected
    repo.chosen = fixpoint(repo, env, pick, _follow)
