"""A hostile server for security tests: answers that lie, never end, trickle or bait.

``async with hostile_server() as evil:`` serves on 127.0.0.1; ``evil.add(path, handler)``
routes an exact path (query ignored) to one of the handlers below, anything else gets 404.
Every request is logged in ``evil.hits`` with what an attacker would see, the
``Authorization`` header included, so a test can assert that no credential arrived and no
request left the path it was meant to stay under.

Every handler is bounded: a body "that never ends" stops after ``max_bytes`` or
``max_seconds`` (whichever comes first), so a test that fails cannot hang or fill memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

__all__ = [
    "Handler",
    "Hit",
    "HostileServer",
    "challenge",
    "endless",
    "endless_pages",
    "hostile_server",
    "json_body",
    "respond",
    "split_body",
    "trickle",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Hit:
    """One request as the hostile server saw it."""

    method: str
    path: str  # decoded path, without the query
    raw: str  # path and query exactly as sent
    host: str
    authorization: str | None
    time: float


@dataclass(eq=False)
class HostileServer:
    """Routes, and the log of every request; ``url`` ends with ``/``."""

    routes: dict[str, Handler] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    url: str = ""
    bytes_sent: int = 0

    def add(self, path: str, handler: Handler) -> None:
        """Answer requests for ``path`` (with or without the leading ``/``) with ``handler``."""
        self.routes["/" + path.lstrip("/")] = handler

    def url_for(self, path: str) -> str:
        """The absolute URL of ``path``."""
        return self.url + path.lstrip("/")

    @property
    def paths(self) -> list[str]:
        """Every path (decoded, without query) requested, in order."""
        return [hit.path for hit in self.hits]

    @property
    def authorizations(self) -> list[str]:
        """Every Authorization header that arrived (should be empty where none belongs)."""
        return [hit.authorization for hit in self.hits if hit.authorization]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(Hit(request.method, request.path, request.raw_path, request.host,
                             request.headers.get("Authorization"), time.monotonic()))
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not here")
        return await handler(request)


_SERVER = web.AppKey("hostile", HostileServer)


@contextlib.asynccontextmanager
async def hostile_server() -> AsyncIterator[HostileServer]:
    """Serve a `HostileServer` on 127.0.0.1 (a free port) for the duration of the block."""
    server = HostileServer()
    app = web.Application()
    app[_SERVER] = server
    app.router.add_route("*", "/{tail:.*}", server._handle)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}/"
    try:
        yield server
    finally:
        await runner.cleanup()


def respond(body: bytes | str = b"", *, status: int = 200,
            headers: Mapping[str, str] | None = None) -> Handler:
    """A plain answer."""
    data = body.encode() if isinstance(body, str) else body

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, body=data, headers=dict(headers or {}))

    return handler


def json_body(value: object, *, status: int = 200,
              headers: Mapping[str, str] | None = None) -> Handler:
    """A JSON answer."""
    return respond(json.dumps(value), status=status,
                   headers={"Content-Type": "application/json", **(headers or {})})


async def _stream(request: web.Request, chunks: Iterable[bytes], *, pause: float = 0.0,
                  headers: Mapping[str, str] | None = None, length: int | None = None,
                  max_seconds: float = 20.0) -> web.StreamResponse:
    response = web.StreamResponse(headers=dict(headers or {}))
    if length is not None:
        response.content_length = length
    else:
        response.enable_chunked_encoding()
    await response.prepare(request)
    deadline = time.monotonic() + max_seconds
    server = request.app[_SERVER]
    try:
        for chunk in chunks:
            if time.monotonic() > deadline:
                break
            await response.write(chunk)
            server.bytes_sent += len(chunk)
            if pause:
                await asyncio.sleep(pause)
        await response.write_eof()
    except (ConnectionError, asyncio.CancelledError):
        pass  # the client went away: exactly what a bounded client does
    return response


def split_body(body: bytes | str, *, parts: int = 2, pause: float = 0.05,
               headers: Mapping[str, str] | None = None) -> Handler:
    """``body`` (with its Content-Length) in ``parts`` separate writes ``pause`` apart."""
    data = body.encode() if isinstance(body, str) else body
    step = max(1, -(-len(data) // parts))
    pieces = [data[i:i + step] for i in range(0, len(data), step)]

    async def handler(request: web.Request) -> web.StreamResponse:
        return await _stream(request, pieces, pause=pause, length=len(data),
                             headers={"Content-Type": "application/json", **(headers or {})})

    return handler


def endless(*, chunk: bytes = b"x" * (64 * 1024), prefix: bytes = b"",
            max_bytes: int = 1024 * MiB, max_seconds: float = 20.0,
            headers: Mapping[str, str] | None = None) -> Handler:
    """A chunked body that goes on and on (``prefix`` first), up to ``max_bytes``."""

    def chunks() -> Iterable[bytes]:
        sent = 0
        if prefix:
            sent += len(prefix)
            yield prefix
        while sent < max_bytes:
            sent += len(chunk)
            yield chunk

    async def handler(request: web.Request) -> web.StreamResponse:
        return await _stream(request, chunks(), headers=headers, max_seconds=max_seconds)

    return handler


def trickle(body: bytes | str, *, interval: float = 0.5, max_seconds: float = 20.0,
            headers: Mapping[str, str] | None = None) -> Handler:
    """``body`` one byte every ``interval`` seconds: each byte in time, the whole never."""
    data = body.encode() if isinstance(body, str) else body

    async def handler(request: web.Request) -> web.StreamResponse:
        pieces = (data[i:i + 1] for i in range(len(data)))
        return await _stream(request, pieces, pause=interval, length=len(data),
                             headers=headers, max_seconds=max_seconds)

    return handler


def challenge(realm: str, *, service: str = "hostile", scope: str = "repository:x:pull"
              ) -> Handler:
    """401 with a Bearer challenge naming ``realm`` (a token endpoint of the attacker's)."""
    value = f'Bearer realm="{realm}",service="{service}",scope="{scope}"'
    return respond(b'{"errors":[{"code":"UNAUTHORIZED"}]}', status=401,
                   headers={"WWW-Authenticate": value, "Content-Type": "application/json"})


def endless_pages(*, page_size: int = 100, max_pages: int = 1_000_000) -> Handler:
    """``tags/list`` pages that always name a next page (``?n=..&last=page<k>``)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        last = request.query.get("last", "page0")
        try:
            page = int(last.removeprefix("page")) + 1
        except ValueError:
            page = 1
        tags = [f"p{page}-t{i}" for i in range(page_size)]
        headers = {"Content-Type": "application/json"}
        if page < max_pages:
            headers["Link"] = f'<{request.path}?n={page_size}&last=page{page}>; rel="next"'
        body = json.dumps({"name": "x", "tags": tags})
        return web.Response(body=body.encode(), headers=headers)

    return handler
