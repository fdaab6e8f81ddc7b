"""Shared pieces of the fault suite: small remotes, blob repos, store and catalog checks."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from aiohttp import web

import stagekit
from stagekit import Remote
from stagekit.download import DownloadConfig
from stagekit.models import Content, DeclarativeArtifact, DeclarativeContent
from stagekit.storage import Store
from stagekit.testing.faults import Fault, FaultContext, FaultRule, Handler
from stagekit.testing.repo import Repo, StaticFile

TIMEOUT = 30
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.05, read_timeout=2.0)


@dataclass(frozen=True)
class Item(Content):
    """A unit of the in-memory test remotes, keyed by name."""

    kind = "fault.item"
    name: str

    def natural_key(self) -> tuple[str]:
        return (self.name,)


def key(name: str) -> str:
    return f"fault.item:{name}"


Build = Callable[[str], list[DeclarativeArtifact]]


class ListRemote(Remote):
    """Flat units: one per name, with the artifacts ``build(name)`` declares."""

    def __init__(self, names: Iterable[str], build: Build, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.names, self.build = list(names), build

    async def roots(self, ctx):
        for name in self.names:
            yield DeclarativeContent(Item(name), self.build(name))

    def has_children(self, dc: DeclarativeContent) -> bool:
        return False


class TreeRemote(Remote):
    """A nested in-memory remote: ``graph`` maps a name to its children's names.

    ``build(name)`` gives each unit's artifacts; ``hook(name)``, if given, runs in
    `discover` before the children are yielded (to raise, or to wait).
    """

    def __init__(self, graph: dict[str, list[str]], roots: list[str], build: Build,
                 hook: Callable[[str], object] | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.graph, self.root_names, self.build, self.hook = graph, roots, build, hook

    async def roots(self, ctx):
        for name in self.root_names:
            yield DeclarativeContent(Item(name), self.build(name))

    async def discover(self, ctx, unit: Item, dc: DeclarativeContent):
        if self.hook is not None:
            result = self.hook(unit.name)
            if asyncio.iscoroutine(result):
                await result
        for child in self.graph.get(unit.name, []):
            yield DeclarativeContent(Item(child), self.build(child))


def body_for(name: str, size: int) -> bytes:
    """Deterministic bytes, different per name."""
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (size // 32 + 1))[:size]


def blob_repo(names: Iterable[str], size: int = 2048) -> tuple[Repo, dict[str, str]]:
    """A repo serving ``blobs/<name>`` for each name, and each blob's sha256."""
    files, digests = {}, {}
    for name in names:
        body = body_for(name, size)
        files[f"blobs/{name}"] = StaticFile(body)
        digests[name] = hashlib.sha256(body).hexdigest()
    return Repo(files), digests


def blob_builder(url_for: Callable[[str], str], digests: dict[str, str],
                 **artifact_options: object) -> Build:
    """``build(name)``: one artifact ``blobs/<name>`` with its sha256."""

    def build(name: str) -> list[DeclarativeArtifact]:
        return [DeclarativeArtifact(url_for(f"blobs/{name}"), name,
                                    digests={"sha256": digests[name]},
                                    **artifact_options)]  # type: ignore[arg-type]

    return build


async def explore(remote: Remote, store: Store, *, config: DownloadConfig = FAST,
                  **options: object) -> stagekit.Run:
    """Explore under a timeout with fast retries."""
    async with asyncio.timeout(TIMEOUT):
        return await stagekit.explore(remote, store=store, download_config=config, **options)


def statuses(run: stagekit.Run) -> dict[str, str]:
    """Unit key -> status."""
    frame = run.to_dataframe()
    return dict(zip(frame["key"], frame["status"].astype(str), strict=True))


def tries(run: stagekit.Run) -> dict[str, int]:
    """Relative path -> tries, from the artifact table."""
    frame = run.artifacts_dataframe()
    return {str(p): int(t) for p, t in zip(frame["relative_path"], frame["tries"], strict=True)}


def stored_files(store: Store) -> dict[str, bytes]:
    """Every file under the store's digest paths, by name."""
    return {p.name: p.read_bytes() for p in store.artifacts_dir.rglob("*") if p.is_file()}


def assert_store_sound(store: Store) -> None:
    """Every file under a digest path hashes to its name, sits in the right folder, and
    every artifact the catalog knows is on disk with its size."""
    for path in store.artifacts_dir.rglob("*"):
        if path.is_dir():
            assert path.parent == store.artifacts_dir and len(path.name) == 2, path
            continue
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name, path
        assert path.parent.name == path.name[:2], path
    with sqlite3.connect(store.path / "catalog.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        for sha256, size in conn.execute("SELECT sha256, size FROM artifacts"):
            path = store.artifact_path(sha256)
            assert path.is_file(), f"catalog row sha256:{sha256} has no file"
            assert path.stat().st_size == size


def catalog_dump(store_path: Path) -> str:
    """Every row of every table of a store's catalog, as SQL text."""
    conn = sqlite3.connect(store_path / "catalog.sqlite3")
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def files_outside(root: Path, allowed: Iterable[Path]) -> list[Path]:
    """Files under ``root`` that are not under one of ``allowed``."""
    allowed = [a.resolve() for a in allowed]
    return [
        p for p in root.rglob("*")
        if p.is_file() and not any(p.resolve().is_relative_to(a) for a in allowed)
    ]


@dataclass(frozen=True, slots=True)
class Trickle(Fault):
    """Send the headers and the first ``keep`` fraction of the body, then go silent.

    The response hangs mid-body until the client gives up (read timeout, cancellation,
    a killed process) or the server stops: a download is caught half-written.
    """

    keep: float = 0.5
    name: ClassVar[str] = "trickle"

    async def respond(self, request: web.Request, handler: Handler,
                      ctx: FaultContext) -> web.StreamResponse:
        resp = await handler(request)
        assert isinstance(resp, web.Response) and isinstance(resp.body, bytes)
        body = resp.body
        out = web.StreamResponse(status=resp.status, headers=resp.headers)
        out.content_length = len(body)
        await out.prepare(request)
        if request.transport is not None:
            # write() then waits until the kernel has the bytes: the client sees them.
            request.transport.set_write_buffer_limits(high=0)
        await out.write(body[: int(len(body) * self.keep)])
        await ctx.wait(None)
        return out


def trickle(keep: float = 0.5, *, path: str | re.Pattern[str] = "*",
            times: int | None = None) -> FaultRule:
    """A rule sending part of the body and then nothing."""
    return FaultRule(path, Trickle(keep), times=times)
