"""One try at one URL: the HTTP request (redirects followed by hand) or the file:// read.

A try either returns an `Outcome` or raises `AttemptFailed`, which says whether another
try may help; `stagekit.download.session` owns the retry loop and the final error.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from urllib.request import url2pathname

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from stagekit.download.hashing import copy_file_with_digests, wait_for_worker
from stagekit.errors import UnsafeURLError
from stagekit.urls import handed_url, redact_text
from stagekit.urls import split_credentials as _split_credentials

__all__ = [
    "AttemptFailed",
    "Outcome",
    "copy_file",
    "file_path",
    "is_file_url",
    "open_followed",
    "open_response",
    "read_limited",
    "read_small_file",
    "split_credentials",
    "stream_body",
    "too_large",
]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10

Kind = Literal["transient", "status", "fatal"]


class AttemptFailed(Exception):
    """A try failed: ``kind`` is "transient" (retry), "status" (see ``status``) or "fatal"."""

    def __init__(
        self,
        kind: Kind,
        reason: str,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        limit: tuple[str, int | float] | None = None,
    ) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.status = status
        self.headers: Mapping[str, str] = headers or CIMultiDictProxy(CIMultiDict())
        #: ``(setting, value)`` when a cap of `stagekit.limits.Limits` or the config tripped.
        self.limit = limit


@dataclass(slots=True)
class Outcome:
    """What a successful try produced."""

    size: int
    digests: dict[str, str]
    status: int | None
    headers: CIMultiDictProxy[str]
    final_url: str  # redacted; "" when no redirect was followed (the URL asked for)


def split_credentials(url: str) -> tuple[URL, str | None]:
    """``url`` without userinfo, and the ``Authorization`` value its userinfo stands for.

    A password may hold an unencoded ``/``, ``#`` or ``?`` (see `stagekit.urls`).
    """
    try:
        bare, basic = _split_credentials(url)
        parsed = URL(bare)
    except (TypeError, ValueError):
        # yarl's message would quote the URL, credentials included.
        raise AttemptFailed("fatal", "malformed URL") from None
    if basic is None and (parsed.user is not None or parsed.password is not None):
        return split_credentials(str(parsed))  # pragma: no cover - split_userinfo saw none
    return parsed, basic


def too_large(limit: int, setting: str) -> AttemptFailed:
    """The failure of a body that went past ``limit`` bytes (``setting`` names the cap)."""
    return AttemptFailed("fatal", f"larger than the limit of {limit} bytes ({setting})",
                         limit=(setting, limit))


def _origin(url: URL) -> tuple[str, str | None, int | None]:
    return (url.scheme, url.host, url.port)


def describe_exception(exc: BaseException) -> str:
    """A short reason for a client exception, with any URL in it redacted."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        errno = exc.os_error.errno
        # errno's own words ("Connection refused"), not asyncio's "Connect call failed (...)"
        # that repeats the address; name-resolution errors have negative numbers.
        why = os.strerror(errno) if errno and errno > 0 else (
            exc.os_error.strerror or str(exc.os_error))
        text = f"cannot connect to {exc.host}:{exc.port} ({why})"
    elif isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        text = f"timed out ({type(exc).__name__}{': ' + str(exc) if str(exc) else ''})"
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return redact_text(text)


async def open_response(
    session: aiohttp.ClientSession,
    url: str,
    headers: Mapping[str, str],
) -> tuple[aiohttp.ClientResponse, URL]:
    """GET ``url`` following redirects by hand; return the final (2xx) response and its URL.

    Credentials from the URL become a Basic ``Authorization`` header (an explicit one in
    ``headers`` wins); it and any cookie header are dropped on a cross-origin redirect,
    whatever the aiohttp version. Raises `AttemptFailed` for error statuses and
    connection faults; the caller must release the returned response.
    """
    response, final, _redirected = await open_followed(session, url, headers)
    return response, final


async def open_followed(
    session: aiohttp.ClientSession,
    url: str,
    headers: Mapping[str, str],
) -> tuple[aiohttp.ClientResponse, URL, bool]:
    """`open_response`, also saying whether a redirect was followed (then the final URL
    is not ``url``, and carries no credentials)."""
    current, basic = split_credentials(url)
    request_headers = CIMultiDict(headers)
    if basic is not None and "Authorization" not in request_headers:
        request_headers["Authorization"] = basic
    for hop in range(MAX_REDIRECTS + 1):
        try:
            response = await session.get(current, headers=request_headers, allow_redirects=False)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AttemptFailed("transient", describe_exception(exc)) from None
        status = response.status
        if status in REDIRECT_STATUSES and "Location" in response.headers:
            location = response.headers["Location"]
            response.release()
            try:  # the one policy for URLs a remote hands over: http(s), no userinfo
                followed = handed_url(location, base=str(current), what="redirect",
                                      same_origin=False)
                target = URL(followed)
            except (UnsafeURLError, ValueError) as exc:
                reason = str(exc) if isinstance(exc, UnsafeURLError) else "malformed Location"
                raise AttemptFailed("fatal", f"refused redirect ({reason})") from None
            if _origin(target) != _origin(current):
                request_headers.popall("Authorization", None)
                request_headers.popall("Cookie", None)
                request_headers.popall("Proxy-Authorization", None)
            current = target
            continue
        if status >= 300:
            reason = response.reason or ""
            response_headers = CIMultiDictProxy(CIMultiDict(response.headers))
            response.release()
            raise AttemptFailed(
                "status",
                f"HTTP {status} {reason}".rstrip(),
                status=status,
                headers=response_headers,
            )
        return response, current, hop > 0
    raise AttemptFailed("fatal", f"more than {MAX_REDIRECTS} redirects")


async def stream_body(
    response: aiohttp.ClientResponse,
    write: Callable[[bytes], Awaitable[None]],
    chunk_size: int,
) -> None:
    """Feed the body to ``write``; connection faults and stalls become `AttemptFailed`."""
    try:
        async for chunk in response.content.iter_chunked(chunk_size):
            await write(chunk)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise AttemptFailed("transient", describe_exception(exc)) from None


async def read_limited(
    response: aiohttp.ClientResponse, limit: int, chunk_size: int,
    setting: str = "Limits.metadata_bytes",
) -> bytes:
    """The whole body, or `AttemptFailed` ("fatal") once it exceeds ``limit`` bytes."""
    length = response.content_length
    if length is not None:
        if length > limit:
            raise too_large(limit, setting)
        # A declared length within the limit: the HTTP parser delivers no byte past it,
        # so the body is read in one call instead of chunk by chunk.
        try:
            data = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AttemptFailed("transient", describe_exception(exc)) from None
        if len(data) > limit:  # pragma: no cover - the parser stops at Content-Length
            raise too_large(limit, setting)
        return data
    parts: list[bytes] = []
    received = 0

    async def collect(chunk: bytes) -> None:
        nonlocal received
        received += len(chunk)
        if received > limit:
            raise too_large(limit, setting)  # made only when needed: one per page adds up
        parts.append(chunk)

    await stream_body(response, collect, chunk_size)
    return b"".join(parts)


def is_file_url(url: str) -> bool:
    """Whether ``url`` is a ``file:`` URL (read from disk, not over HTTP)."""
    return url[:5].lower() == "file:"


def file_path(url: str) -> Path:
    """The local path a ``file://`` URL names (host empty or ``localhost``)."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise AttemptFailed("fatal", f"file URL with a remote host {parts.netloc!r}")
    return Path(url2pathname(parts.path))


async def copy_file(
    url: str,
    target: Path,
    algorithms: list[str],
    chunk_size: int,
    executor: Executor | None,
    max_size: int | None = None,
) -> tuple[int, dict[str, str]]:
    """Copy a ``file://`` URL to ``target`` in a worker thread, hashing on the way."""
    source = file_path(url)
    stop = threading.Event()
    loop = asyncio.get_running_loop()
    work = loop.run_in_executor(
        executor,
        copy_file_with_digests,
        source,
        target,
        algorithms,
        chunk_size,
        stop,
        max_size,
    )
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        stop.set()
        await wait_for_worker(work)
        raise
    except FileNotFoundError:
        raise AttemptFailed("fatal", f"no such file {source}") from None
    except OverflowError:
        raise too_large(max_size or 0, "Limits.artifact_bytes") from None
    except OSError as exc:
        raise AttemptFailed("fatal", f"cannot read {source}: {exc.strerror or exc}") from None


async def read_small_file(
    url: str, limit: int, executor: Executor | None, setting: str = "Limits.metadata_bytes",
) -> bytes:
    """A ``file://`` URL's bytes read in a worker thread, or `AttemptFailed` past ``limit``."""
    path = file_path(url)

    def read() -> bytes:
        with open(path, "rb") as f:
            return f.read(limit + 1)

    try:
        data = await asyncio.get_running_loop().run_in_executor(executor, read)
    except FileNotFoundError:
        raise AttemptFailed("fatal", f"no such file {path}") from None
    except OSError as exc:
        raise AttemptFailed("fatal", f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise too_large(limit, setting)
    return data
