"""A small fault-injecting HTTP server on 127.0.0.1 for the download tests."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import random
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import web

USER, PASSWORD = "alice", "s3cret-pw"


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes of a given size."""
    return random.Random(seed).randbytes(size)


@dataclass
class Gauge:
    """Requests in flight, shared between servers to check the total limit."""

    now: int = 0
    peak: int = 0


@dataclass
class FaultServer:
    """Serves ``files`` at ``/x/{name}``; query parameters choose a fault for the first tries.

    ``?mode=M&fail=N`` applies fault M to the first N requests of that exact path+query
    (``fail`` omitted: every request). Modes: ``status`` (``&status=503``), ``retry-after``
    (429 with ``&after=SECONDS``), ``retry-date`` (503 with an HTTP-date ``&after`` s ahead),
    ``reset`` (abort the socket mid-body), ``truncate`` (close early, Content-Length full),
    ``corrupt`` (one byte flipped), ``chunked`` (no Content-Length), ``stall`` (never
    answer), ``stall-body`` (half, then nothing), ``slow`` (hold the request ``&hold``
    seconds, counting requests in flight).
    ``/auth/{name}`` wants Basic USER:PASSWORD; ``/redirect?to=URL`` answers 302.
    """

    files: dict[str, bytes] = field(default_factory=dict)
    gauge: Gauge = field(default_factory=Gauge)
    hits: Counter[str] = field(default_factory=Counter)
    times: dict[str, list[float]] = field(default_factory=dict)
    authorizations: list[str | None] = field(default_factory=list)
    last_headers: dict[str, str] = field(default_factory=dict)
    body_started: asyncio.Event = field(default_factory=asyncio.Event)
    base: str = ""
    _forever: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return self.base + path

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/x/{name}", self.faulty)
        app.router.add_get("/auth/{name}", self.auth)
        app.router.add_get("/redirect", self.redirect)
        return app

    def _record(self, request: web.Request) -> int:
        key = request.path_qs
        self.hits[key] += 1
        self.times.setdefault(key, []).append(asyncio.get_running_loop().time())
        self.authorizations.append(request.headers.get("Authorization"))
        self.last_headers = dict(request.headers)
        return self.hits[key]

    async def auth(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {token}":
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="t"'})
        return web.Response(body=self.files[request.match_info["name"]])

    async def redirect(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        raise web.HTTPFound(request.query["to"])

    async def faulty(self, request: web.Request) -> web.StreamResponse:
        hit = self._record(request)
        body = self.files.get(request.match_info["name"])
        if body is None:
            raise web.HTTPNotFound()
        q = request.query
        mode = q.get("mode", "")
        faulty = mode and hit <= int(q.get("fail", "1000000"))
        if not faulty:
            return web.Response(body=body, headers={"Docker-Content-Digest": "sha256:x"})
        if mode == "status":
            return web.Response(status=int(q["status"]), text="no")
        if mode == "retry-after":
            return web.Response(status=429, headers={"Retry-After": q["after"]})
        if mode == "retry-date":
            when = datetime.now(UTC) + timedelta(seconds=float(q["after"]))
            date = email.utils.format_datetime(when, usegmt=True)
            return web.Response(status=503, headers={"Retry-After": date})
        if mode == "corrupt":
            return web.Response(body=bytes([body[0] ^ 0xFF]) + body[1:])
        if mode == "stall":
            await self._forever.wait()
        if mode == "chunked":  # no Content-Length: the body's end is the last chunk
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            for start in range(0, len(body), 1000):
                await response.write(body[start : start + 1000])
            await response.write_eof()
            return response
        if mode == "slow":
            self.gauge.now += 1
            self.gauge.peak = max(self.gauge.peak, self.gauge.now)
            try:
                # Service time, so that requests overlap if the client lets them.
                await asyncio.sleep(float(q.get("hold", "0.05")))
            finally:
                self.gauge.now -= 1
            return web.Response(body=body)
        response = web.StreamResponse(headers={"Content-Length": str(len(body))})
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        self.body_started.set()
        if mode == "stall-body":
            await self._forever.wait()
        assert request.transport is not None
        if mode == "reset":
            request.transport.abort()
        else:  # truncate: a clean close before Content-Length bytes
            request.transport.close()
        return response


@asynccontextmanager
async def serve(server: FaultServer) -> AsyncIterator[FaultServer]:
    """Run ``server`` on 127.0.0.1 on a free port."""
    # handler_cancellation: a client that gives up ends the stalled handler at once.
    # No access log: the server side logs full URLs, and tests check the client's logs.
    runner = web.AppRunner(
        server.app(),
        handle_signals=False,
        shutdown_timeout=0.5,
        handler_cancellation=True,
        access_log=None,
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.base = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        server._forever.set()
        await runner.cleanup()
