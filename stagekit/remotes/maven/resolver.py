"""`PomResolver`: fetch, parse and build effective POMs concurrently, once each."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from stagekit.errors import LimitExceededError, MetadataError, StagekitError
from stagekit.limits import DEFAULT_LIMITS, Limits
from stagekit.remotes.completion import retrieve_exception
from stagekit.remotes.maven.children import Child
from stagekit.remotes.maven.coords import Coordinates, metadata_path, pom_path
from stagekit.remotes.maven.effective import (
    EffectivePom,
    finish_effective,
    prepare_effective,
)
from stagekit.remotes.maven.metadata import MavenMetadata, parse_metadata, resolve_range
from stagekit.remotes.maven.pom import RawPom, parse_pom
from stagekit.remotes.maven.versions import is_range

__all__ = ["PomResolver"]

log = logging.getLogger(__name__)
T = TypeVar("T")

PomFetcher = Callable[[Coordinates], Awaitable[bytes]]
MetadataFetcher = Callable[[str, str], Awaitable[bytes]]



class _NotReady(Exception):
    """An imported BOM is not built yet: build the model the long way."""


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
        ready: Callable[[Coordinates], bytes | None] | None = None,
    ) -> None:
        self._fetch = fetch
        # The bytes of a POM already fetched, if any: then it is parsed (and, when its
        # parent and imports are built, built) right away, without a task.
        self._ready = ready
        self.limits = limits
        # coords -> how many POMs wait on it as their parent or import, in a chain
        self._below: dict[Coordinates, int] = {}
        self._fetch_metadata = fetch_metadata
        self.base_url = base_url.rstrip("/") + "/"
        self._raw: dict[Coordinates, asyncio.Future[RawPom]] = {}
        self._effective: dict[Coordinates, asyncio.Future[EffectivePom]] = {}
        self._metadata: dict[tuple[str, str], asyncio.Future[MavenMetadata]] = {}
        # coords being built -> coords it awaits (parents/imports), to refuse cycles
        self._waits: dict[Coordinates, set[Coordinates]] = {}
        self.fetches = 0
        self.metadata_fetches = 0

    def url_of(self, coords: Coordinates) -> str:
        """URL of the POM of ``coords``."""
        return self.base_url + pom_path(coords)

    def _task(self, table: dict[Any, asyncio.Future[T]], key: Hashable,
              make: Callable[[], Any]) -> asyncio.Future[T]:
        task = table.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(make(), name=f"maven:{key}")
            task.add_done_callback(retrieve_exception)
            table[key] = task
        return task

    async def raw(self, coords: Coordinates) -> RawPom:
        """The parsed POM of ``coords`` (fetched once)."""
        future = self._raw.get(coords)
        if future is None:
            data = self._ready(coords) if self._ready is not None else None
            if data is not None and len(data) < OFF_LOOP_BYTES:
                future = self._settled(self._raw, coords, self._parse, coords, data)
            else:
                future = self._task(self._raw, coords, lambda: self._load(coords))
        if future.done():
            return future.result()
        return await asyncio.shield(future)

    def _settled(self, table: dict[Any, asyncio.Future[T]], key: Hashable,
                 func: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """``func(*args)`` done now, cached in ``table`` as a finished future (its error
        too, as a task's would be)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        try:
            future.set_result(func(*args))
        except StagekitError as exc:
            future.set_exception(exc)
            future.add_done_callback(retrieve_exception)
        table[key] = future
        return future

    async def _load(self, coords: Coordinates) -> RawPom:
        data = await self._fetch(coords)
        if len(data) < OFF_LOOP_BYTES:
            return self._parse(coords, data)
        self.fetches += 1
        url = self.url_of(coords)
        raw = await _off_loop(len(data), parse_pom, data, url=url)
        return self._check_entries(raw)

    def _parse(self, coords: Coordinates, data: bytes) -> RawPom:
        self.fetches += 1
        return self._check_entries(parse_pom(data, url=self.url_of(coords)))

    def _check_entries(self, raw: RawPom) -> RawPom:
        url = raw.url
        entries = len(raw.dependencies) + len(raw.management)
        if entries > self.limits.children:
            raise LimitExceededError(
                f"{url}: {entries} dependencies and managed dependencies, more than the "
                f"limit of {self.limits.children} (Limits.children)", url=url,
                limit="children", value=self.limits.children, field="dependencies")
        return raw

    async def effective(self, coords: Coordinates) -> EffectivePom:
        """The effective model of ``coords`` (built once; parents and imports first)."""
        future = self._effective.get(coords)
        if future is None:
            ready = self._parts_ready(coords)
            if ready is not None:
                with contextlib.suppress(_NotReady):
                    future = self._settled(self._effective, coords, self._build_now, *ready)
            if future is None:
                future = self._task(self._effective, coords, lambda: self._build(coords))
        if future.done():
            return future.result()
        return await asyncio.shield(future)

    def _parts_ready(self, coords: Coordinates) -> tuple[RawPom, EffectivePom | None] | None:
        """The parsed POM and built parent of ``coords`` when both are at hand (or it has
        no parent) and the POM is small; None sends it the long way (`_build`)."""
        raw_future = self._raw.get(coords)
        if raw_future is None or not raw_future.done() or raw_future.exception() is not None:
            return None
        raw = raw_future.result()
        if 64 * (len(raw.dependencies) + len(raw.management)) >= OFF_LOOP_BYTES:
            return None
        if raw.parent is None:
            return raw, None
        rp = raw.parent
        if not (rp.group and rp.artifact and rp.version) or is_range(rp.version):
            return None
        up = self._effective.get(Coordinates(rp.group, rp.artifact, rp.version))
        if up is None or not up.done() or up.exception() is not None:
            return None
        return raw, up.result()

    def _build_now(self, raw: RawPom, parent: EffectivePom | None) -> EffectivePom:
        """`build_effective` when the parent is built already; imports must be built too,
        else `_build_now` raises `_NotReady` and the caller takes the long way."""
        base = prepare_effective(raw, parent, limits=self.limits)
        if not base.imports:
            return finish_effective(base)
        boms: list[EffectivePom] = []
        for c in base.import_coordinates:
            bom = self._effective.get(c)
            if bom is None or not bom.done() or bom.exception() is not None:
                raise _NotReady
            boms.append(bom.result())
        return finish_effective(base, boms)

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
            base = await _off_loop(size, prepare_effective, raw, parent, limits=self.limits)
            if not base.imports:
                return await _off_loop(size, finish_effective, base)
            pinned = [await self._pin(c) for c in base.import_coordinates]
            boms = await self._need(coords, pinned, "import")
            return await _off_loop(size, finish_effective, base, boms)
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
