"""`PomFiles`: each POM fetched once, with its sidecars, for both the resolver and its unit.

A POM must be read before its unit can be declared (the packaging decides the main
artifact), and the resolver reads parents and BOMs too. So every POM is fetched here, once,
and verified against its sidecar. When the run's downloader writes into the store's
temporary directory (``handoff=True``), the verified temporary file is handed to the unit's
``.pom`` artifact (``DeclarativeArtifact.download``), which `ArtifactSaver` then moves into
the store: one request per POM instead of two, one round trip per level instead of two.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from stagekit.download import DownloadResult
from stagekit.download.hashing import remove_quietly
from stagekit.errors import DownloadError
from stagekit.remotes.completion import retrieve_exception
from stagekit.remotes.maven.coords import Coordinates, pom_path
from stagekit.remotes.maven.sidecars import Sidecars, verify_bytes

__all__ = ["PomFile", "PomFiles"]

log = logging.getLogger(__name__)

FetchFile = Callable[[str], Awaitable[DownloadResult]]
GetBytes = Callable[[str], Awaitable[bytes]]


@dataclass(slots=True, eq=False)
class PomFile:
    """A fetched POM: its bytes, the sidecar digests it matched, and its temporary file.

    ``download`` is the verified temporary file until a unit takes it (then None).
    """

    url: str
    data: bytes
    digests: dict[str, str]
    download: DownloadResult | None = None



class PomFiles:
    """Fetches POMs by coordinates, once each, sharing in-flight fetches between callers."""

    def __init__(self, base_url: str, sidecars: Sidecars, *, get_bytes: GetBytes,
                 fetch_file: FetchFile | None = None, max_size: int = 16 * 1024 * 1024,
                 stored: Callable[[Coordinates], bytes | None] | None = None) -> None:
        self.base_url = base_url
        self._stored = stored
        self.sidecars = sidecars
        self._get_bytes = get_bytes
        self._fetch_file = fetch_file
        self.max_size = max_size
        self._tasks: dict[Coordinates, asyncio.Task[PomFile]] = {}
        self._seeded: dict[Coordinates, bytes] = {}
        self.requests = 0

    @property
    def handoff(self) -> bool:
        """Whether fetched POMs come with a temporary file for the pipeline."""
        return self._fetch_file is not None

    def url_of(self, coords: Coordinates) -> str:
        """URL of the POM of ``coords``."""
        return self.base_url + pom_path(coords)

    async def get(self, coords: Coordinates) -> PomFile:
        """The verified POM of ``coords``; raises `DownloadError` (fetch or digest)."""
        task = self._tasks.get(coords)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._load(coords))
            task.add_done_callback(retrieve_exception)
            self._tasks[coords] = task
        return await asyncio.shield(task)

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

    def failed(self, coords: Coordinates) -> bool:
        """Whether the fetch of ``coords`` ended in an error (or never happened)."""
        task = self._tasks.get(coords)
        return task is None or (task.done() and (task.cancelled() or task.exception() is not None))

    def seed(self, coords: Coordinates, data: bytes) -> None:
        """Use ``data`` (the POM as the pipeline or an earlier run stored it)."""
        self._seeded[coords] = data

    def take_download(self, coords: Coordinates) -> DownloadResult | None:
        """Hand the verified temporary file of ``coords`` to its unit (once)."""
        task = self._tasks.get(coords)
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        pom = task.result()
        download, pom.download = pom.download, None
        return download

    async def _load(self, coords: Coordinates) -> PomFile:
        url = self.url_of(coords)
        sums = asyncio.get_running_loop().create_task(self.sidecars.digests(url))
        download: DownloadResult | None = None
        try:
            self.requests += 1
            if self._fetch_file is not None:
                download = await self._fetch_file(url)
                if download.size > self.max_size:
                    raise DownloadError(
                        f"{url} is {download.size} bytes, more than the {self.max_size} "
                        "allowed for a POM", url=url, tries=download.tries)
                # A POM is a few kilobytes: reading it here costs less than a thread hop.
                data = download.temp_path.read_bytes()
            else:
                data = await self._get_bytes(url)
            digests = await sums
            verify_bytes(data, digests, url)
        except BaseException:
            sums.cancel()
            with contextlib.suppress(BaseException):
                await sums
            if download is not None:
                remove_quietly(download.temp_path)
            raise
        if download is not None:
            download.digests.update(digests)
        return PomFile(url, data, digests, download)

    async def aclose(self) -> int:
        """Cancel fetches still running and remove temporary files no unit took.

        Returns how many temporary files were removed.
        """
        running = [t for t in self._tasks.values() if not t.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        removed = 0
        for task in self._tasks.values():
            if task.cancelled() or task.exception() is not None:
                continue
            pom = task.result()
            if pom.download is not None:
                remove_quietly(pom.download.temp_path)
                pom.download = None
                removed += 1
        if removed:
            log.debug("removed %d fetched POM file(s) that no unit took", removed)
        return removed
