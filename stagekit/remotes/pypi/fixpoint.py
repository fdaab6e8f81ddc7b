"""`Fixpoint`: which release each live requirement leads to, kept true as requirements come.

A requirement is *live* when it is a root's or when its requirer is a live release and its
marker holds for the extras that release is reached with; a release is live when a live
requirement leads to it. Per project, every live requirement leads to the newest version
that satisfies them all (or, when none does, each to the newest it allows alone: a
conflict). When a requirement narrows a project whose version was chosen, the project is
re-chosen, every requirement naming it is re-pointed, and a release no longer led to
stops counting: its requirements are withdrawn, which may widen other projects again. The
result is a fixpoint of those rules over the requirements seen, the same whatever the
order in which they arrive, as long as there is only one (a resolver backtracks among
several; this does not: see the README). A project whose choice keeps changing is frozen
after `MAX_RECHOICES` changes and reported as a conflict, so the propagation always ends.

The class is synchronous and knows nothing of the network: the remote gives it pages and
metadata, and sends the `Edge`s it answers to the engine.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from stagekit.remotes.pypi.choose import followed
from stagekit.remotes.pypi.simple import ProjectPage

__all__ = ["MAX_RECHOICES", "ROOT", "Edge", "Fixpoint", "Need"]

MAX_RECHOICES = 20
ROOT = "root"

log = logging.getLogger(__name__)

Release = tuple[str, str]  # (project, version)
NeedId = tuple[str, int]  # (requirer key or ROOT, index of the requirement)


@dataclass(slots=True)
class Need:
    """One live requirement: who asks, which line, and the version it leads to now."""

    requirer: str
    index: int
    req: Requirement
    project: str
    extras: frozenset[str]
    target: Version | None = None


@dataclass(frozen=True, slots=True)
class Edge:
    """A requirement now leading to a release it did not lead to before."""

    requirer: str  # a unit key, or ROOT
    index: int
    project: str
    version: Version
    req: Requirement


@dataclass(slots=True)
class _Project:
    page: ProjectPage | None = None
    needs: dict[NeedId, Need] = field(default_factory=dict)
    chosen: Version | None = None
    changes: int = 0
    frozen: bool = False
    widened: bool = False  # a requirement was withdrawn since the last choice
    versions: set[str] = field(default_factory=set)  # releases known of it


@dataclass(slots=True)
class _Release:
    key: str
    requires: list[Requirement | None] | None = None  # None: metadata not read (yet)
    extras: frozenset[str] = frozenset()
    live: bool = False
    contributed: dict[int, str] = field(default_factory=dict)  # index -> project
    # The requirements its markers let through for ``extras``, kept: markers are costly.
    followed_for: frozenset[str] | None = None
    followed: list[tuple[int, Requirement]] = field(default_factory=list)


class Fixpoint:
    """Live requirements, the releases they lead to, and what changed (see module).

    ``choose(page, spec)`` picks the newest usable version of a page allowed by ``spec``;
    ``key(project, version)`` names a release's unit; ``env`` holds marker variables.
    """

    def __init__(self, choose: Callable[[ProjectPage, SpecifierSet], Version | None],
                 key: Callable[[str, str], str], env: dict[str, str]) -> None:
        self._choose = choose
        self._key = key
        self.env = env
        self.projects: dict[str, _Project] = {}
        self.releases: dict[Release, _Release] = {}
        self._by_key: dict[str, Release] = {}
        self._emitted: set[tuple[str, int, str]] = set()
        self._dirty: dict[str, None] = {}  # projects to choose again, in order
        self._pending: dict[Release, None] = {}
        # Releases whose requirements wait for a page, by the project of that page.
        self._waiting: dict[str, set[Release]] = {}
        self._conflicted: set[str] = set()
        self._paged: set[str] = set()
        self._new_waits: set[str] = set()
        self._withdrew = False
        self._root_needs: dict[int, str] = {}
        self._unmet: list[Need] = []
        self._steps = 0
        self._reported: set[tuple[str, int, str]] = set()
        #: ``(project, version)`` -> the requirement (with its requirer) that first chose it.
        self.chosen_by: dict[Release, str] = {}
        #: ``(project, version)`` -> the version(s) chosen instead, once it stopped counting.
        self.superseded: dict[Release, str] = {}
        #: ``(project, version)`` -> conflict texts.
        self.conflicts: dict[Release, list[str]] = {}

    # -- what the remote tells it --------------------------------------------------

    def page(self, page: ProjectPage) -> None:
        """The page of a project (needed before a requirement naming it counts)."""
        self.projects.setdefault(page.name, _Project()).page = page
        self._paged.add(page.name)
        for ident in self._waiting.pop(page.name, ()):
            self._pending[ident] = None

    def known_pages(self) -> set[str]:
        """Projects whose page was given (a live view)."""
        return self._paged

    def has_page(self, project: str) -> bool:
        """Whether the page of ``project`` was given."""
        p = self.projects.get(canonicalize_name(project))
        return p is not None and p.page is not None

    def root(self, index: int, req: Requirement) -> None:
        """A root requirement (its page must be known)."""
        self._add_need(ROOT, index, req)

    def metadata(self, project: str, version: str, requires: list[Requirement | None]) -> None:
        """The Requires-Dist of a release (None for a malformed line)."""
        rel = self._release(project, version)
        if rel.requires is None:
            rel.requires = requires
            self._pending[(project, version)] = None

    def wanted_pages(self) -> set[str]:
        """Projects named by requirements waiting to count whose pages are not known."""
        if not self._waiting:
            return set()
        return {name for name, waiting in self._waiting.items() if waiting}

    def has_new_waits(self) -> bool:
        """Whether `new_waits` has something to say."""
        return bool(self._new_waits)

    def new_waits(self) -> set[str]:
        """Pages still missing that requirements started waiting for since the last call."""
        names, self._new_waits = self._new_waits, set()
        return {n for n in names if self._waiting.get(n)}

    def waiting_on(self, project: str) -> list[tuple[str, int, Requirement]]:
        """``(requirer key, index, requirement)`` waiting for the page of ``project``."""
        name = canonicalize_name(project)
        return [(self.releases[ident].key, i, req) for ident in self._waiting.get(name, ())
                for i, req in self._desired(self.releases[ident])
                if canonicalize_name(req.name) == name]

    def page_failed(self, project: str) -> None:
        """The page of ``project`` cannot be had: what waited for it goes on without it
        (`drop` each of its `waiting_on` requirements first)."""
        for ident in self._waiting.pop(canonicalize_name(project), ()):
            self._pending[ident] = None

    def drop(self, requirer: str, index: int) -> None:
        """Forget a requirement that leads nowhere (its page failed): it was reported."""
        ident = self._by_key.get(requirer)
        if ident is not None:
            self.releases[ident].contributed[index] = ""
            self._pending[ident] = None

    # -- propagation ---------------------------------------------------------------

    def settle(self) -> tuple[list[Edge], list[Need]]:
        """Apply everything given so far: the edges that now exist and did not before, and
        the requirements that newly lead to no version at all.

        Requirements whose project page is missing wait (see `wanted_pages`).
        """
        edges: list[Edge] = []
        self._steps = 0
        limit = 50 * (len(self.projects) + len(self._pending)) + 1000
        while self._steps < limit:
            while (self._pending or self._dirty) and self._steps < limit:
                pending, self._pending = self._pending, {}
                for ident in pending:
                    self._contribute(ident, self.releases[ident])
                while self._dirty and self._steps < limit:
                    self._steps += 1
                    name = next(iter(self._dirty))
                    del self._dirty[name]
                    self._rechoose(name, edges)
            if not self._withdrew or self._dirty:
                break
            self._withdrew = False
            self._sweep()
            if not self._pending:
                break
        if self._steps >= limit:
            log.warning("PyPI requirements did not settle within %d steps: the versions "
                        "chosen may depend on the order of arrival", limit)
            self._dirty.clear()
        out: list[Edge] = []
        for edge in edges:
            mark = (edge.requirer, edge.index, str(edge.version))
            if mark not in self._emitted and self._still(edge):
                self._emitted.add(mark)
                out.append(edge)
        unmet = []
        for need in self._unmet:
            mark = (need.requirer, need.index, str(need.req))
            if need.target is None and need.req is self._need_req(need) and \
                    mark not in self._reported:
                self._reported.add(mark)
                unmet.append(need)
        self._unmet = []
        return out, unmet

    def _need_req(self, need: Need) -> Requirement | None:
        current = self.projects[need.project].needs.get((need.requirer, need.index))
        return current.req if current is not None else None

    def _still(self, edge: Edge) -> bool:
        need = self.projects[edge.project].needs.get((edge.requirer, edge.index))
        return need is not None and need.target == edge.version

    def _desired(self, rel: _Release) -> list[tuple[int, Requirement]]:
        if not rel.live or rel.requires is None:
            return []
        if rel.followed_for != rel.extras:
            rel.followed = [(i, req) for i, req in enumerate(rel.requires)
                            if req is not None and followed(req, self.env, rel.extras)]
            rel.followed_for = rel.extras
        return [(i, req) for i, req in rel.followed if rel.contributed.get(i) != ""]

    def followed_now(self, project: str, version: str) -> list[Requirement]:
        """The requirements of a release that count now (for its current extras)."""
        rel = self.releases.get((project, version))
        return [req for _i, req in self._desired(rel)] if rel is not None else []

    def _contribute(self, ident: Release, rel: _Release) -> None:
        """Make ``rel``'s live requirements match its state, or wait for missing pages."""
        desired = dict(self._desired(rel))
        missing = {canonicalize_name(req.name) for req in desired.values()
                   if not self.has_page(req.name)}
        if missing:
            for name in missing:
                self._waiting.setdefault(name, set()).add(ident)
            self._new_waits |= missing
            return
        for index, project in list(rel.contributed.items()):
            if project and index not in desired:
                del rel.contributed[index]
                self.projects[project].needs.pop((rel.key, index), None)
                self.projects[project].widened = True
                self._dirty[project] = None
                self._withdrew = True
        for index, req in desired.items():
            if index not in rel.contributed:
                self._add_need(rel.key, index, req)

    def _add_need(self, requirer: str, index: int, req: Requirement) -> None:
        name = canonicalize_name(req.name)
        project = self.projects.setdefault(name, _Project())
        extras = frozenset(canonicalize_name(e) for e in req.extras)
        project.needs[(requirer, index)] = Need(requirer, index, req, name, extras)
        if requirer == ROOT:
            self._root_needs[index] = name
        else:
            self.releases[self._by_key[requirer]].contributed[index] = name
        self._dirty[name] = None

    def _rechoose(self, name: str, edges: list[Edge]) -> None:
        project = self.projects[name]
        page = project.page
        if page is None:
            return
        needs = list(project.needs.values())
        previous = project.chosen
        both: Version | None
        if previous is not None and (project.frozen or not project.widened) and all(
                n.req.specifier.contains(previous, prereleases=True) for n in needs):
            both = previous  # only requirements it satisfies came: still the newest
        elif project.frozen:
            both = None
        else:
            together = SpecifierSet()
            for need in needs:
                together &= need.req.specifier
            both = self._choose(page, together)
        project.widened = False
        if both is not None:
            if previous is not None and both != previous:
                project.changes += 1
                project.frozen = project.changes >= MAX_RECHOICES
            project.chosen = both
        incoming: dict[Version, set[str]] = {}
        for need in needs:
            target: Version | None
            if both is not None:
                target = both
            elif project.frozen and need.target is not None:
                target = need.target  # frozen: requirements already pointed stay put
            else:
                target = self._choose(page, need.req.specifier)
            if target is None:
                self._unmet.append(need)
                need.target = None
                continue
            need.target = target
            incoming.setdefault(target, set()).update(need.extras)
            text = str(target)
            self.chosen_by.setdefault((name, text), f"{need.requirer}: {need.req}")
            if (need.requirer, need.index, text) not in self._emitted:
                edges.append(Edge(need.requirer, need.index, name, target, need.req))
        if both is None and previous is None:
            project.chosen = next(iter(incoming), None)
        self._conflict(name, needs, both is None)
        for version in project.versions | {str(v) for v in incoming}:
            rel = self._release(name, version)
            wanted = incoming.get(Version(version))
            live = wanted is not None
            extras = frozenset(wanted) if wanted is not None else frozenset()
            if live != rel.live or extras != rel.extras:
                rel.live, rel.extras = live, extras
                self._pending[(name, version)] = None

    def _conflict(self, name: str, needs: list[Need], conflict: bool) -> None:
        if name in self._conflicted:
            for ident in [i for i in self.conflicts if i[0] == name]:
                del self.conflicts[ident]
            self._conflicted.discard(name)
        if not conflict:
            return
        self._conflicted.add(name)
        text = "; ".join(f"{n.requirer}: {n.req}" for n in needs)
        message = f"no version of {name} satisfies all of: {text}"
        for version in {n.target for n in needs if n.target is not None}:
            self.conflicts[(name, str(version))] = [message]

    def _sweep(self) -> None:
        """Releases kept live only by a cycle of releases no root reaches stop counting."""
        reached: set[str] = set()
        queue = deque([ROOT])
        while queue:
            for need in self._needs_of(queue.popleft()):
                if need.target is not None:
                    key = self._key(need.project, str(need.target))
                    if key not in reached:
                        reached.add(key)
                        queue.append(key)
        for ident, rel in self.releases.items():
            if rel.live and rel.key not in reached:
                rel.live, rel.extras = False, frozenset()
                self._pending[ident] = None

    def _needs_of(self, requirer: str) -> list[Need]:
        """The live requirements of ``requirer`` (a unit key or ROOT), in their order."""
        if requirer == ROOT:
            named = self._root_needs
        else:
            ident = self._by_key.get(requirer)
            if ident is None:
                return []
            named = self.releases[ident].contributed
        out = []
        for index in sorted(named):
            project = named[index]
            need = self.projects[project].needs.get((requirer, index)) if project else None
            if need is not None:
                out.append(need)
        return out

    def _release(self, project: str, version: str) -> _Release:
        ident = (project, version)
        rel = self.releases.get(ident)
        if rel is None:
            rel = _Release(self._key(project, version))
            self.releases[ident] = rel
            self._by_key[rel.key] = ident
            self.projects.setdefault(project, _Project()).versions.add(version)
        return rel

    # -- the answer ----------------------------------------------------------------

    def finish(self) -> None:
        """Note which releases stopped counting, and what counts instead."""
        for (name, version), rel in self.releases.items():
            if rel.live:
                continue
            project = self.projects.get(name)
            instead = sorted({str(n.target) for n in project.needs.values()
                              if n.target is not None}, key=Version) if project else []
            self.superseded.pop((name, version), None)
            if instead and version not in instead:
                self.superseded[(name, version)] = ", ".join(instead)

    def live(self) -> set[Release]:
        """The releases the live requirements lead to."""
        return {ident for ident, rel in self.releases.items() if rel.live}

    def answer(self) -> tuple[dict[str, int], set[tuple[str, str, str]]]:
        """Live releases by key with their shortest depth, and the live edges
        ``(requirer key, release key, requirement)`` (roots have no edge)."""
        depths: dict[str, int] = {}
        edges: set[tuple[str, str, str]] = set()
        queue: deque[tuple[str, int]] = deque([(ROOT, -1)])
        while queue:
            requirer, depth = queue.popleft()
            for need in self._needs_of(requirer):
                if need.target is None:
                    continue
                key = self._key(need.project, str(need.target))
                if requirer != ROOT:
                    edges.add((requirer, key, str(need.req)))
                if key not in depths:
                    depths[key] = depth + 1
                    queue.append((key, depth + 1))
        return depths, edges
