"""`IndexClient`: a simple repository's project pages and a release's core metadata, fetched.

One request per project page (shared by every requirement that names the project), with
``Accept`` preferring PEP 691 JSON. Core metadata without a ``.metadata`` file comes from
the wheel by Range requests (its zip central directory, then the METADATA member: two
or three small requests), or from the whole wheel when the server ignores Range, or from
the sdist's PKG-INFO; every body is bounded.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from packaging.utils import canonicalize_name

from stagekit.errors import DigestMismatchError, MetadataError
from stagekit.remotes.pypi.coremeta import (
    MAX_METADATA,
    CoreMetadata,
    NeedBytes,
    SparseFile,
    metadata_from_sdist,
    metadata_from_wheel,
)
from stagekit.remotes.pypi.simple import ACCEPT, DistFile, ProjectPage, parse_project_page
from stagekit.remotes.pypi.simple import project_url as _project_url
from stagekit.urls import redact_url

__all__ = ["MAX_DIST", "MAX_PAGE", "GetBytes", "GetPage", "IndexClient"]

#: A function like `Downloader.get_bytes`: ``(url, headers, max_size) -> (body, headers)``.
GetBytes = Callable[[str, Mapping[str, str] | None, int | None],
                    Awaitable[tuple[bytes, Mapping[str, str]]]]
#: A function like `Downloader.get_page`: the same, answering ``(body, final URL, headers)``.
GetPage = Callable[[str, Mapping[str, str] | None, int | None],
                   Awaitable[tuple[bytes, str, Mapping[str, str]]]]

MAX_PAGE = 32 * 1024 * 1024  # the largest real project pages are a few MB
MAX_DIST = 64 * 1024 * 1024  # a whole wheel or sdist read for its metadata
TAIL = 64 * 1024
MAX_ROUNDS = 6
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+)")


def _consume(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


class IndexClient:
    """Reads an index at ``index_url`` through ``get`` (the run's downloader).

    Project pages come through ``get_page`` when given, so that their relative links
    resolve against the URL a redirect led to (PEP 503), else through ``get``.
    """

    def __init__(self, index_url: str, get: GetBytes, get_page: GetPage | None = None) -> None:
        self.index_url = index_url if index_url.endswith("/") else index_url + "/"
        self._get = get
        self._get_page = get_page
        self._pages: dict[str, asyncio.Task[ProjectPage]] = {}

    def project_url(self, name: str) -> str:
        """The page URL of ``name``."""
        return _project_url(self.index_url, name)

    def fetching(self, name: str) -> bool:
        """Whether the page of ``name`` (normalized) is being fetched right now."""
        task = self._pages.get(name)
        return task is not None and not task.done()

    async def page(self, name: str) -> ProjectPage:
        """The project page of ``name`` (fetched once; `MetadataError`/`DownloadError`)."""
        key = canonicalize_name(name)
        task = self._pages.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._fetch_page(key))
            task.add_done_callback(_consume)
            self._pages[key] = task
        return await asyncio.shield(task)

    async def _fetch_page(self, name: str) -> ProjectPage:
        url = self.project_url(name)
        if self._get_page is not None:
            body, url, headers = await self._get_page(url, {"Accept": ACCEPT}, MAX_PAGE)
        else:
            body, headers = await self._get(url, {"Accept": ACCEPT}, MAX_PAGE)
        return parse_project_page(body, headers.get("Content-Type", ""), url, name)

    async def aclose(self) -> None:
        """Cancel page fetches nobody awaits any more."""
        running = [t for t in self._pages.values() if not t.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def _whole(self, file: DistFile) -> bytes:
        body, _ = await self._get(file.url, None, MAX_DIST)
        self._verify(file, body)
        return body

    @staticmethod
    def _verify(file: DistFile, body: bytes) -> None:
        expected = file.hashes.get("sha256")
        if expected is None:
            return
        actual = hashlib.sha256(body).hexdigest()
        if actual != expected:
            rurl = redact_url(file.url)
            raise DigestMismatchError(f"{rurl}: sha256 {actual} does not match the index's "
                                      f"{expected}", url=rurl, algorithm="sha256",
                                      expected=expected, actual=actual)

    async def sdist_metadata(self, file: DistFile) -> CoreMetadata:
        """PKG-INFO of an sdist (whole file, verified against the index's sha256)."""
        body = await self._whole(file)
        return await asyncio.to_thread(metadata_from_sdist, body, file.filename,
                                       redact_url(file.url))

    async def wheel_metadata(self, file: DistFile) -> CoreMetadata:
        """METADATA of a wheel, by Range requests when the server honours them."""
        where = redact_url(file.url)
        tail = TAIL if file.size is None else min(TAIL, file.size)
        body, headers = await self._get(file.url, {"Range": f"bytes=-{tail}"}, MAX_DIST)
        match = _CONTENT_RANGE.fullmatch(headers.get("Content-Range", "").strip())
        if match is None:  # the server sent the whole file
            self._verify(file, body)
            return await asyncio.to_thread(metadata_from_wheel, body, where)
        start, total = int(match.group(1)), int(match.group(3))
        sparse = SparseFile(total)
        sparse.add(start, body)
        for _ in range(MAX_ROUNDS):
            try:
                sparse.seek(0)
                return metadata_from_wheel(sparse, where)
            except NeedBytes as need:
                if sparse.known > 2 * MAX_METADATA + TAIL:
                    break
                end = min(total, max(need.end, need.start + TAIL))
                chunk, headers = await self._get(
                    file.url, {"Range": f"bytes={need.start}-{end - 1}"}, MAX_DIST)
                got = _CONTENT_RANGE.fullmatch(headers.get("Content-Range", "").strip())
                if got is None:
                    self._verify(file, chunk)
                    return await asyncio.to_thread(metadata_from_wheel, chunk, where)
                sparse.add(int(got.group(1)), chunk)
        raise MetadataError(f"{where}: METADATA not found within {MAX_ROUNDS} range requests",
                            url=where, field="METADATA")
