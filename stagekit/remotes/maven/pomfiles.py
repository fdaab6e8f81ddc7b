"""`PomFiles`: each POM fetched once, verified, for both the resolver and its unit.

A POM must be read before its unit can be declared (the packaging decides the main
artifact), and the resolver reads parents and BOMs too. So every POM is fetched here, once,
and verified against the digest its answer's checksum header or its sidecar gives (see
`stagekit.remotes.maven.checksums`). With a ``temp_dir`` (the run's downloader's, inside
the store), the verified bytes are handed to the unit's ``.pom`` artifact
(``DeclarativeArtifact.download``, a `DownloadResult` holding them in memory under a new
name in that folder), which `ArtifactSaver` writes and moves into the store in its worker
thread: the pipeline does not fetch the POM a second time, and the loop makes no file.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from stagekit.download import DownloadResult
from stagekit.errors import DownloadError
from stagekit.remotes.completion import retrieve_exception
from stagekit.remotes.maven.checksums import HeaderHabit, check_mode, header_digests
from stagekit.remotes.maven.coords import Coordinates, pom_path
from stagekit.remotes.maven.sidecars import Sidecars, verify_bytes
from stagekit.urls import redact_url

__all__ = ["PomFile", "PomFiles"]

log = logging.getLogger(__name__)

GetResponse = Callable[[str], Awaitable[tuple[bytes, Mapping[str, str]]]]


@dataclass(slots=True, eq=False)
class PomFile:
    """A fetched POM: its bytes, the digests it matched, and its download for the store.

    ``download`` is the verified `DownloadResult` (in memory) until a unit takes it.
    """

    url: str
    data: bytes
    digests: dict[str, str]
    download: DownloadResult | None = None


class PomFiles:
    """Fetches POMs by coordinates, once each, sharing in-flight fetches between callers.

    ``get_response(url)`` returns a body and its response headers. ``checksums`` is the
    mode of `stagekit.remotes.maven.checksums` (which digest a POM must match).
    """

    def __init__(self, base_url: str, sidecars: Sidecars, *, get_response: GetResponse,
                 checksums: str = "header-or-sidecar", temp_dir: Path | None = None,
                 max_size: int = 16 * 1024 * 1024,
                 stored: Callable[[Coordinates], bytes | None] | None = None) -> None:
        self.base_url = base_url
        self._stored = stored
        self.sidecars = sidecars
        self.checksums = check_mode(checksums)
        self._get_response = get_response
        self.temp_dir = temp_dir
        self._temp_prefix = os.path.join(temp_dir or ".", f"pom-{secrets.token_hex(6)}-")
        self._written = 0
        self.max_size = max_size
        self.habit = HeaderHabit()
        self._tasks: dict[Coordinates, asyncio.Future[PomFile]] = {}
        self._seeded: dict[Coordinates, bytes] = {}
        self.requests = 0
        self.verified_by_header = 0

    @property
    def handoff(self) -> bool:
        """Whether fetched POMs come with a download for the pipeline to store."""
        return self.temp_dir is not None

    def url_of(self, coords: Coordinates) -> str:
        """URL of the POM of ``coords``."""
        return self.base_url + pom_path(coords)

    def get(self, coords: Coordinates) -> Awaitable[PomFile]:
        """The verified POM of ``coords``; raises `DownloadError` (fetch or digest)."""
        task = self._tasks.get(coords)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._load(coords))
            task.add_done_callback(retrieve_exception)
            self._tasks[coords] = task
        elif task.done():
            return task
        return asyncio.shield(task)

    async def fetch_here(self, coords: Coordinates) -> PomFile:
        """`get`, fetching in the calling task when no one asked for ``coords`` yet.

        For a caller that is itself the one task preparing ``coords``: other callers
        wait on the same result, and no second task is made for the fetch.
        """
        if coords in self._tasks:
            return await self.get(coords)
        future: asyncio.Future[PomFile] = asyncio.get_running_loop().create_future()
        future.add_done_callback(retrieve_exception)
        self._tasks[coords] = future
        try:
            pom = await self._load(coords)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
            raise
        if future.done():  # cancelled by aclose() meanwhile: nobody takes the bytes
            raise asyncio.CancelledError
        future.set_result(pom)
        return pom

    async def data(self, coords: Coordinates) -> bytes:
        """The bytes of the POM (for `PomResolver`): seeded from the store, else fetched."""
        seeded = self._seeded.get(coords)
        if seeded is None and self._stored is not None:
            seeded = self._stored(coords)
            if seeded is not None:
                self._seeded[coords] = seeded
        if seeded is not None:
            return seeded
        return (await self.get(coords)).data

    def ready(self, coords: Coordinates) -> bytes | None:
        """The bytes of the POM if they are at hand now (seeded, or fetched and verified)."""
        seeded = self._seeded.get(coords)
        if seeded is not None:
            return seeded
        task = self._tasks.get(coords)
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result().data

    def failed(self, coords: Coordinates) -> bool:
        """Whether the fetch of ``coords`` ended in an error (or never happened)."""
        task = self._tasks.get(coords)
        return task is None or (task.done() and (task.cancelled() or task.exception() is not None))

    def seed(self, coords: Coordinates, data: bytes) -> None:
        """Use ``data`` (the POM as the pipeline or an earlier run stored it)."""
        self._seeded[coords] = data

    def take_download(self, coords: Coordinates) -> DownloadResult | None:
        """Hand the verified download of ``coords`` to its unit (once)."""
        task = self._tasks.get(coords)
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        pom = task.result()
        download, pom.download = pom.download, None
        return download

    async def _load(self, coords: Coordinates) -> PomFile:
        url = self.url_of(coords)
        mode = self.checksums
        ahead = mode == "sidecar" or (mode == "header-or-sidecar"
                                      and self.habit.ask_sidecar_ahead())
        sums = (asyncio.get_running_loop().create_task(self.sidecars.digests(url))
                if ahead and self.sidecars.active() else None)
        try:
            self.requests += 1
            data, headers = await self._get_response(url)
            if len(data) > self.max_size:
                raise DownloadError(f"{url} is {len(data)} bytes, more than the "
                                    f"{self.max_size} allowed for a POM", url=url, tries=1)
            said: dict[str, str] = {}
            if mode == "header-or-sidecar":
                said = header_digests(headers, self.sidecars.algorithms)
                self.habit.saw(bool(said))
            if said:
                self.verified_by_header += 1
                verify_bytes(data, said, url, source="header")
            digests = dict(said)
            if sums is not None:
                from_sidecar = await sums
            elif not said and mode != "ignore":
                from_sidecar = await self.sidecars.digests(url)
            else:
                from_sidecar = {}
            verify_bytes(data, from_sidecar, url)
            digests.update(from_sidecar)
        except BaseException:
            if sums is not None:
                sums.cancel()
                with contextlib.suppress(BaseException):
                    await sums
            raise
        download = self._write(url, data, digests) if self.temp_dir is not None else None
        return PomFile(url, data, digests, download)

    def _write(self, url: str, data: bytes, digests: dict[str, str]) -> DownloadResult:
        """The verified bytes for the pipeline, held in memory: the store's worker thread
        writes them to their temporary name when it commits the unit (no file is made
        on the event loop)."""
        return DownloadResult(temp_path=Path(self._new_temp_name()), size=len(data),
                              digests={**digests, "sha256": hashlib.sha256(data).hexdigest()},
                              url=redact_url(url), tries=1, status=200, headers={},
                              data=data)

    def _new_temp_name(self) -> str:
        # A counter under a random per-run prefix: unique in the run's own temporary
        # folder without mkstemp's random name per file; O_EXCL still refuses to reuse one.
        self._written += 1
        return f"{self._temp_prefix}{self._written}.part"

    async def aclose(self) -> int:
        """Cancel fetches still running and drop the POMs no unit took.

        Returns how many fetched POMs no unit took (held in memory: no file to remove).
        """
        running = [t for t in self._tasks.values() if not t.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        dropped = 0
        for task in self._tasks.values():
            if task.cancelled() or task.exception() is not None:
                continue
            pom = task.result()
            if pom.download is not None:
                pom.download = None
                dropped += 1
        if dropped:
            log.debug("dropped %d fetched POM(s) that no unit took", dropped)
        return dropped
