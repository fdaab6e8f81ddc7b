"""`PomResolver`: fetch, parse and build effective POMs concurrently, once each."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from stagekit.errors import LimitExceededError, MetadataError
from stagekit.limits import DEFAULT_LIMITS, Limits
from stagekit.remotes.completion import retrieve_exception
from stagekit.remotes.maven.children import Child
from stagekit.remotes.maven.coords import Coordinates, metadata_path, pom_path
from stagekit.remotes.maven.effective import EffectivePom, build_effective
from stagekit.remotes.maven.metadata import MavenMetadata, parse_metadata, resolve_range
from stagekit.remotes.maven.pom import RawPom, parse_pom
from stagekit.remotes.maven.versions import is_range

__all__ = ["PomResolver"]

log = logging.getLogger(__name__)
T = TypeVar("T")

PomFetcher = Callable[[Coordinates], Awaitable[bytes]]
MetadataFetcher = Callable[[str, str], Awaitable[bytes]]



#: Work on inputs past this many bytes (or 64 per entry) runs in a worker thread.
OFF_LOOP_BYTES = 256 * 1024


async def _off_loop(size: int, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)``, in a worker thread when ``size`` says it is big, so a
    hostile 16 MiB POM or an 80,000-version list never stalls the event loop."""
    if size < OFF_LOOP_BYTES:
        return func(*args, **kwargs)
    return await asyncio.to_thread(func, *args, **kwargs)


class PomResolver:
    """Builds effective POMs, fetching each POM (and each maven-metadata.xml) at most once.

    ``fetch(coords)`` returns the POM bytes; ``fetch_metadata(group, artifact)`` returns the
    artifact-level maven-metadata.xml bytes (needed only for parent/import version ranges
    and `resolve_range`). ``base_url`` is used to name files in errors.

    Concurrent requests share one in-flight task per POM; unrelated POMs build
    concurrently and a POM awaits only its own parent chain and imports. A cycle among
    parents/imports raises `MetadataError` (the wait-for graph is checked before each
    wait, so it never hangs). Results and failures are cached. Use ``async with`` or call
    `aclose` to cancel what is still running.

    ``limits`` (`stagekit.limits.Limits`) caps the parent/import chain above a POM
    (``parent_chain``), the entries of a POM or a version list (``children``) and the
    size of an expanded value (``property_bytes``). Big files are parsed off the loop.
    """

    def __init__(
        self,
        fetch: PomFetcher,
        base_url: str,
        *,
        fetch_metadata: MetadataFetcher | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self._fetch = fetch
        self.limits = limits
        # coords -> how many POMs wait on it as their parent or import, in a chain
        self._below: dict[Coordinates, int] = {}
        self._fetch_metadata = fetch_metadata
        self.base_url = base_url.rstrip("/") + "/"
        self._raw: dict[Coordinates, asyncio.Task[RawPom]] = {}
        self._effective: dict[Coordinates, asyncio.Task[EffectivePom]] = {}
        self._metadata: dict[tuple[str, str], asyncio.Task[MavenMetadata]] = {}
        # coords being built -> coords it awaits (parents/imports), to refuse cycles
        self._waits: dict[Coordinates, set[Coordinates]] = {}
        self.fetches = 0
        self.metadata_fetches = 0

    def url_of(self, coords: Coordinates) -> str:
        """URL of the POM of ``coords``."""
        return self.base_url + pom_path(coords)

    def _task(self, table: dict[Any, asyncio.Task[T]], key: Hashable, make: Callable[[], Any]):
        task = table.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(make(), name=f"maven:{key}")
            task.add_done_callback(retrieve_exception)
            table[key] = task
        return task

    async def raw(self, coords: Coordinates) -> RawPom:
        """The parsed POM of ``coords`` (fetched once)."""
        return await asyncio.shield(self._task(self._raw, coords, lambda: self._load(coords)))

    async def _load(self, coords: Coordinates) -> RawPom:
        self.fetches += 1
        data = await self._fetch(coords)
        url = self.url_of(coords)
        raw = await _off_loop(len(data), parse_pom, data, url=url)
        entries = len(raw.dependencies) + len(raw.management)
        if entries > self.limits.children:
            raise LimitExceededError(
                f"{url}: {entries} dependencies and managed dependencies, more than the "
                f"limit of {self.limits.children} (Limits.children)", url=url,
                limit="children", value=self.limits.children, field="dependencies")
        return raw

    async def effective(self, coords: Coordinates) -> EffectivePom:
        """The effective model of ``coords`` (built once; parents and imports first)."""
        task = self._task(self._effective, coords, lambda: self._build(coords))
        return await asyncio.shield(task)

    async def metadata(self, group: str, artifact: str) -> MavenMetadata:
        """The artifact-level maven-metadata.xml of ``group:artifact`` (fetched once)."""
        if self._fetch_metadata is None:
            raise MetadataError(
                f"{group}:{artifact}: a version range needs maven-metadata.xml, "
                "but this resolver has no fetch_metadata",
                field="version",
            )
        key = (group, artifact)
        task = self._task(self._metadata, key, lambda: self._load_metadata(group, artifact))
        return await asyncio.shield(task)

    async def _load_metadata(self, group: str, artifact: str) -> MavenMetadata:
        assert self._fetch_metadata is not None
        self.metadata_fetches += 1
        data = await self._fetch_metadata(group, artifact)
        url = self.base_url + metadata_path(group, artifact)
        meta = await _off_loop(len(data), parse_metadata, data, url=url)
        if len(meta.versions) > self.limits.children:
            raise LimitExceededError(
                f"{url}: lists {len(meta.versions)} versions, more than the limit of "
                f"{self.limits.children} (Limits.children)", url=url, limit="children",
                value=self.limits.children, field="versions")
        return meta

    async def resolve_range(self, group: str, artifact: str, spec: str) -> str:
        """The highest version of ``group:artifact`` in range ``spec`` listed in its metadata."""
        meta = await self.metadata(group, artifact)
        return await _off_loop(len(meta.versions) * 64, resolve_range, meta, spec)

    async def resolve_child(self, child: Child) -> Child:
        """``child`` with a range version replaced by the version it resolves to."""
        if not child.is_range:
            return child
        c = child.coords
        return child.with_version(await self.resolve_range(c.group, c.artifact, c.version))

    async def _pin(self, coords: Coordinates) -> Coordinates:
        if is_range(coords.version):
            version = await self.resolve_range(coords.group, coords.artifact, coords.version)
            return Coordinates(coords.group, coords.artifact, version)
        return coords

    def _path(self, start: Coordinates, goal: Coordinates) -> list[Coordinates] | None:
        stack: list[tuple[Coordinates, list[Coordinates]]] = [(start, [start])]
        seen: set[Coordinates] = set()
        while stack:
            node, path = stack.pop()
            if node == goal:
                return path
            if node in seen:
                continue
            seen.add(node)
            stack.extend((nxt, [*path, nxt]) for nxt in self._waits.get(node, ()))
        return None

    async def _need(self, waiter: Coordinates, targets: list[Coordinates], relation: str):
        """Await the effective models of ``targets`` on behalf of ``waiter``, refusing cycles."""
        waits = self._waits.setdefault(waiter, set())
        depth = self._below.get(waiter, 0) + 1
        if depth > self.limits.parent_chain:
            url = self.url_of(waiter)
            raise LimitExceededError(
                f"{url}: more than {self.limits.parent_chain} {relation} POMs in a chain "
                "(Limits.parent_chain)", url=url, limit="parent_chain",
                value=self.limits.parent_chain, field=relation)
        for target in targets:
            self._below.setdefault(target, depth)
            path = self._path(target, waiter)
            if path is not None:
                chain = " -> ".join(str(c) for c in [waiter, *path])
                url = self.url_of(waiter)
                raise MetadataError(
                    f"{url}: {relation} POMs form a cycle: {chain}", url=url, field=relation
                )
            waits.add(target)
        tasks = [self._task(self._effective, t, functools.partial(self._build, t))
                 for t in targets]
        try:
            return [await asyncio.shield(task) for task in tasks]
        finally:
            waits.difference_update(targets)

    async def _build(self, coords: Coordinates) -> EffectivePom:
        try:
            raw = await self.raw(coords)
            parent = None
            if raw.parent is not None:
                rp = raw.parent
                if not (rp.group and rp.artifact and rp.version) or "${" in "".join(
                    (rp.group, rp.artifact, rp.version)
                ):
                    raise MetadataError(
                        f"{raw.url}: parent needs literal groupId, artifactId and version, "
                        f"got {rp.group}:{rp.artifact}:{rp.version}",
                        url=raw.url,
                        field="parent",
                    )
                pc = await self._pin(Coordinates(rp.group, rp.artifact, rp.version))
                (parent,) = await self._need(coords, [pc], "parent")
            size = 64 * (len(raw.dependencies) + len(raw.management))
            effective = await _off_loop(size, build_effective, raw, parent, limits=self.limits)
            if not effective.imports:
                return effective
            pinned = [await self._pin(c) for c in effective.import_coordinates]
            boms = await self._need(coords, pinned, "import")
            return await _off_loop(size, build_effective, raw, parent, boms, limits=self.limits)
        finally:
            self._waits.pop(coords, None)

    async def aclose(self) -> None:
        """Cancel and await every task still running."""
        tasks = [
            t
            for table in (self._raw, self._effective, self._metadata)
            for t in table.values()
            if not t.done()
        ]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> PomResolver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
