"""`Downloader`: one aiohttp session per run, fetching artifacts with retries and checks."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from stagekit.download.auth import Auth
from stagekit.download.config import INTERESTING_HEADERS, DownloadConfig, DownloadResult
from stagekit.download.fetch import (
    AttemptFailed,
    Outcome,
    copy_file,
    is_file_url,
    open_followed,
    read_limited,
    read_small_file,
    stream_body,
    too_large,
)
from stagekit.download.hashing import DigestSink, normalize_algorithm, remove_quietly
from stagekit.download.retry import RetryPolicy, is_retryable_status
from stagekit.errors import (
    BodyTooLargeError,
    DigestMismatchError,
    DownloadError,
    HTTPStatusError,
)
from stagekit.urls import redact_url

__all__ = ["Downloader", "Page"]

logger = logging.getLogger(__name__)


class _Mismatch(Exception):
    def __init__(self, algorithm: str, expected: str, actual: str, *, final: bool = False) -> None:
        super().__init__(algorithm)
        self.algorithm, self.expected, self.actual = algorithm, expected, actual
        self.final = final  # more bytes than declared: another try would stream them again


async def _within(deadline: float | None, setting: str, work: Any) -> Any:
    """Await ``work``, or fail the try ("fatal", not retried) once ``deadline`` seconds pass."""
    if deadline is None:
        return await work
    try:
        async with asyncio.timeout(deadline) as scope:
            return await work
    except TimeoutError:
        if scope.expired():
            raise AttemptFailed(
                "fatal", f"no complete answer within the deadline of {deadline:g} s ({setting})"
            ) from None
        raise


def _tries_text(tries: int) -> str:
    return "not retried" if tries == 1 else f"after {tries} tries"


def _check(
    size: int,
    digests: Mapping[str, str],
    expected_size: int | None,
    expected: Mapping[str, str],
) -> None:
    if expected_size is not None and size != expected_size:
        raise _Mismatch("size", str(expected_size), str(size))
    for algorithm, value in expected.items():
        if digests[algorithm] != value:
            raise _Mismatch(algorithm, value, digests[algorithm])


@dataclass(frozen=True, slots=True)
class Page:
    """A small file fetched into memory: its ``body``, the ``url`` it came from after
    redirects (the requested one, credentials included, when there was none) and the
    response ``headers``."""

    body: bytes
    url: str
    headers: CIMultiDictProxy[str]

    @property
    def content_type(self) -> str:
        """The Content-Type header ("" when none)."""
        return self.headers.get("Content-Type", "")


class Downloader:
    """Fetches artifacts and small metadata files for one run.

    Use as ``async with Downloader(config, temp_dir=...) as d:``; the aiohttp session is
    created inside the running loop (unless one is given, which is then not closed) and
    closed on exit. Safe to call from many tasks at once; the connector enforces the
    per-host and total limits. ``retry`` replaces the policy built from the config
    (tests inject a recording sleep). ``auth`` (may also be set later, e.g. by a remote)
    adds headers to HTTP requests and answers a 401 once per request before it is retried.
    """

    def __init__(
        self,
        config: DownloadConfig | None = None,
        *,
        temp_dir: Path,
        session: aiohttp.ClientSession | None = None,
        retry: RetryPolicy | None = None,
        auth: Auth | None = None,
    ) -> None:
        self.config = config or DownloadConfig()
        self.auth = auth
        self.temp_dir = Path(temp_dir)
        self.retry = retry or RetryPolicy(
            self.config.tries, self.config.backoff_base, self.config.backoff_max
        )
        self._session = session
        self._owns_session = session is None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session in use (only inside ``async with``)."""
        if self._session is None:
            raise RuntimeError("use Downloader as 'async with Downloader(...) as d'")
        return self._session

    async def __aenter__(self) -> Downloader:
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(
            max_workers=self.config.io_threads, thread_name_prefix="stagekit-download"
        )
        if self._owns_session:
            cfg = self.config
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=cfg.total, limit_per_host=cfg.per_host),
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=cfg.connect_timeout, sock_read=cfg.read_timeout
                ),
                headers=dict(cfg.headers),
                # Artifacts are verified as stored, so never let aiohttp decode them.
                auto_decompress=False,
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def fetch(
        self,
        urls: str | Sequence[str],
        *,
        expected_digests: Mapping[str, str] | None = None,
        expected_size: int | None = None,
        headers: Mapping[str, str] | None = None,
        max_size: int | None = None,
        metadata: bool = False,
    ) -> DownloadResult:
        """Download the first mirror in ``urls`` that works into a verified temporary file.

        The body is cut off while streaming once it passes ``expected_size`` (a
        `DigestMismatchError`, not retried) or ``max_size`` (default
        ``config.limits.artifact_bytes``; a `BodyTooLargeError`). Raises
        `HTTPStatusError`, `DigestMismatchError` or `DownloadError` (of the last mirror,
        its message listing the others); no temporary file is left on failure.
        ``metadata=True`` is for a file a remote will read (a manifest, a Release, a POM):
        ``max_size`` then defaults to ``limits.metadata_bytes`` and each try has
        ``config.metadata_timeout`` instead of ``config.request_timeout``.
        """
        if metadata and max_size is None:
            max_size = self.config.limits.metadata_bytes
        url_list = [urls] if isinstance(urls, str) else list(urls)
        if not url_list:
            raise ValueError("fetch() needs at least one URL")
        expected = {
            normalize_algorithm(k): v.strip().lower() for k, v in (expected_digests or {}).items()
        }
        total_tries = 0
        failures: list[DownloadError] = []
        for url in url_list:
            try:
                result = await self._fetch_one(
                    url, expected, expected_size, headers or {}, max_size, metadata
                )
            except DownloadError as err:
                total_tries += err.tries
                failures.append(err)
                if len(failures) < len(url_list):
                    logger.warning("mirror failed, trying the next one: %s", err)
                continue
            result.tries += total_tries
            return result
        raise _mirrors_error(failures, total_tries)

    async def get_bytes(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        max_size: int | None = None,
    ) -> tuple[bytes, CIMultiDictProxy[str]]:
        """Fetch a small metadata file into memory, with the same retries as `fetch`.

        Raises `BodyTooLargeError` (not retried) when the body exceeds ``max_size`` bytes
        (default ``config.limits.metadata_bytes``), checked while streaming, and
        `DownloadError` when the answer takes longer than ``config.metadata_timeout``.
        `get_page` is the same and also says where redirects led.
        """
        page = await self.get_page(url, headers, max_size)
        return page.body, page.headers

    async def get_page(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        max_size: int | None = None,
    ) -> Page:
        """As `get_bytes`, with the URL the body came from after redirects (`Page`).

        Relative links in a page resolve against that final URL (PEP 503).
        """
        limit = self.config.limits.metadata_bytes if max_size is None else max_size
        setting = "Limits.metadata_bytes" if max_size is None else "max_size"
        deadline = self.config.metadata_timeout
        tries = 0
        challenged = False
        while True:
            tries += 1
            request_headers = (headers or {}) if self.auth is None else \
                await self._with_auth(url, headers or {})
            try:
                if deadline is None:
                    return await self._read_page(url, request_headers, limit, setting)
                return await _within(deadline, "DownloadConfig.metadata_timeout",
                                     self._read_page(url, request_headers, limit, setting))
            except AttemptFailed as failure:
                if not challenged and await self._challenged(failure, url, request_headers):
                    challenged = True
                    continue
                await self._retry_or_raise(failure, redact_url(url), tries)

    async def _read_page(
        self, url: str, headers: Mapping[str, str], limit: int, setting: str
    ) -> Page:
        """One try of `get_page` (no per-call closures: it runs once per metadata file)."""
        if is_file_url(url):
            data = await read_small_file(url, limit, self._executor, setting)
            return Page(data, url, CIMultiDictProxy(CIMultiDict()))
        response, final, redirected = await open_followed(self.session, url, headers)
        try:
            data = await read_limited(response, limit, self.config.chunk_size, setting)
        except BaseException:
            response.close()
            raise
        response.release()
        # The response's own headers: a read-only view that outlives the connection.
        return Page(data, str(final) if redirected else url, response.headers)

    async def _fetch_one(
        self,
        url: str,
        expected: Mapping[str, str],
        expected_size: int | None,
        headers: Mapping[str, str],
        max_size: int | None = None,
        metadata: bool = False,
    ) -> DownloadResult:
        rurl = redact_url(url)
        cap, setting = self._cap(expected_size, max_size)
        if setting == "max_size" and metadata and max_size == self.config.limits.metadata_bytes:
            setting = "Limits.metadata_bytes"
        deadline, deadline_setting = (
            (self.config.metadata_timeout, "DownloadConfig.metadata_timeout") if metadata
            else (self.config.request_timeout, "DownloadConfig.request_timeout"))
        tries = 0
        mismatches = 0
        challenged = False
        while True:
            tries += 1
            request_headers = headers if self.auth is None else \
                await self._with_auth(url, headers)
            try:
                outcome, temp_path = await _within(
                    deadline, deadline_setting,
                    self._try_once(url, expected, expected_size, request_headers, cap, setting),
                )
            except AttemptFailed as failure:
                if not challenged and await self._challenged(failure, url, request_headers):
                    challenged = True
                    continue
                await self._retry_or_raise(failure, rurl, tries)
                continue
            except _Mismatch as m:
                mismatches += 1
                if m.final or mismatches > self.config.digest_retries or tries >= self.retry.tries:
                    raise DigestMismatchError(
                        f"{m.algorithm} mismatch for {rurl}: expected {m.expected}, "
                        f"got {m.actual} ({_tries_text(tries)})",
                        url=rurl,
                        tries=tries,
                        algorithm=m.algorithm,
                        expected=m.expected,
                        actual=m.actual,
                    ) from None
                logger.warning(
                    "%s mismatch for %s (expected %s, got %s), downloading once more",
                    m.algorithm,
                    rurl,
                    m.expected,
                    m.actual,
                )
                continue
            logger.debug(
                "downloaded %s (%d bytes, %d tries, from %s)",
                rurl,
                outcome.size,
                tries,
                outcome.final_url or rurl,
            )
            return DownloadResult(
                temp_path=temp_path,
                size=outcome.size,
                digests=outcome.digests,
                url=rurl,
                tries=tries,
                status=outcome.status,
                headers={
                    name: outcome.headers[name]
                    for name in INTERESTING_HEADERS
                    if name in outcome.headers
                },
            )

    def _cap(self, expected_size: int | None, max_size: int | None) -> tuple[int | None, str]:
        """The most bytes a body may have, and what says so: the declared size, else
        ``max_size``, else ``limits.artifact_bytes`` (the smaller of the first two if both)."""
        if max_size is None and expected_size is None:
            return self.config.limits.artifact_bytes, "Limits.artifact_bytes"
        if max_size is None or (expected_size is not None and expected_size <= max_size):
            return expected_size, "declared size"
        return max_size, "max_size"

    async def _with_auth(self, url: str, headers: Mapping[str, str]) -> Mapping[str, str]:
        """``headers`` plus what ``auth`` adds for ``url`` (an explicit Authorization wins)."""
        if self.auth is None or is_file_url(url) or "Authorization" in CIMultiDict(headers):
            return headers
        extra = await self.auth.authorize(self.session, url)
        return {**headers, **extra} if extra else headers

    async def _challenged(
        self, failure: AttemptFailed, url: str, sent: Mapping[str, str]
    ) -> bool:
        """Whether ``auth`` answered a 401 so that the request is worth one more try."""
        if self.auth is None or failure.kind != "status" or failure.status != 401:
            return False
        return await self.auth.challenged(
            self.session, url, failure.headers, CIMultiDict(sent).get("Authorization")
        )

    async def _retry_or_raise(self, failure: AttemptFailed, rurl: str, tries: int) -> None:
        """Sleep before the next try, or raise the final error for ``failure``."""
        retryable = failure.kind == "transient" or (
            failure.kind == "status" and is_retryable_status(failure.status or 0)
        )
        if not retryable or tries >= self.retry.tries:
            raise _final_error(failure, rurl, tries) from None
        delay = self.retry.delay(tries - 1, failure.headers.get("Retry-After"))
        logger.info(
            "retrying %s in %.2f s (try %d of %d failed: %s)",
            rurl,
            delay,
            tries,
            self.retry.tries,
            failure.reason,
        )
        await self.retry.sleep(delay)

    async def _try_once(
        self,
        url: str,
        expected: Mapping[str, str],
        expected_size: int | None,
        headers: Mapping[str, str],
        cap: int | None = None,
        setting: str = "",
    ) -> tuple[Outcome, Path]:
        if is_file_url(url):
            return await self._file_once(url, expected, expected_size, cap, setting)
        response, final_url, redirected = await open_followed(self.session, url, headers)
        sink: DigestSink | None = None
        try:
            announced = response.content_length
            if expected_size is not None and announced is not None and announced != expected_size:
                raise _Mismatch("size", str(expected_size), str(announced),
                                final=announced > expected_size)
            if cap is not None and announced is not None and announced > cap:
                raise too_large(cap, setting)
            # The file is made only for a response worth keeping, and after the request
            # went out, so requests leave in the order they were asked for.
            sink = await DigestSink.create(
                self.temp_dir, expected, self._executor, batch_size=self.config.chunk_size
            )
            write: Callable[[bytes], Awaitable[None]] = sink.write
            if cap is not None:
                write = _capped(sink, cap, setting, expected_size)
            await stream_body(response, write, self.config.chunk_size)
            size, digests = await sink.finish()
            _check(size, digests, expected_size, expected)
        except BaseException:
            response.close()
            if sink is not None:
                await sink.discard()
            raise
        response.release()
        # The response's own headers (a read-only view that outlives the connection);
        # the final URL is worth a string only when a redirect led elsewhere.
        outcome = Outcome(size, digests, response.status, response.headers,
                          redact_url(str(final_url)) if redirected else "")
        return outcome, sink.path

    async def _file_once(
        self, url: str, expected: Mapping[str, str], expected_size: int | None,
        cap: int | None = None, setting: str = "",
    ) -> tuple[Outcome, Path]:
        fd, name = tempfile.mkstemp(dir=self.temp_dir, prefix="download-", suffix=".part")
        os.close(fd)
        temp_path = Path(name)
        try:
            try:
                size, digests = await copy_file(
                    url, temp_path, list(expected), self.config.chunk_size, self._executor, cap
                )
            except AttemptFailed as failure:
                if failure.limit is None or cap is None:
                    raise
                if setting == "declared size" and expected_size is not None:
                    raise _Mismatch("size", str(expected_size), f"more than {expected_size}",
                                    final=True) from None
                raise too_large(cap, setting) from None
            _check(size, digests, expected_size, expected)
        except BaseException:
            remove_quietly(temp_path)
            raise
        return Outcome(size, digests, None, CIMultiDictProxy(CIMultiDict()), url), temp_path


def _capped(
    sink: DigestSink, cap: int, setting: str, expected_size: int | None
) -> Callable[[bytes], Awaitable[None]]:
    """``sink.write`` that stops the stream once more than ``cap`` bytes arrived."""

    async def write(chunk: bytes) -> None:
        if sink.size + len(chunk) > cap:
            if setting == "declared size" and expected_size is not None:
                raise _Mismatch("size", str(expected_size), f"more than {expected_size}",
                                final=True)
            raise too_large(cap, setting)
        await sink.write(chunk)

    return write


def _final_error(failure: AttemptFailed, rurl: str, tries: int) -> DownloadError:
    when = _tries_text(tries)
    if failure.limit is not None:
        setting, value = failure.limit
        return BodyTooLargeError(f"{rurl} is {failure.reason} ({when})", url=rurl,
                                 tries=tries, limit=setting, value=value)
    if failure.kind == "status":
        error: DownloadError = HTTPStatusError(
            f"{failure.reason} from {rurl} ({when})",
            url=rurl,
            tries=tries,
            status=failure.status or 0,
        )
    else:
        error = DownloadError(
            f"could not download {rurl}: {failure.reason} ({when})", url=rurl, tries=tries
        )
    # Kept for callers that must answer a challenge (OCI token auth reads WWW-Authenticate).
    error.headers = failure.headers  # type: ignore[attr-defined]
    return error


def _mirrors_error(failures: list[DownloadError], total_tries: int) -> DownloadError:
    last = failures[-1]
    if len(failures) > 1:
        others = "; ".join(str(err) for err in failures[:-1])
        last.args = (f"{last} [all {len(failures)} mirrors failed; earlier: {others}]",)
        last.tries = total_tries
    return last
