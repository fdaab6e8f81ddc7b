"""The fixture HTTP server: serves a generated `Repo` on 127.0.0.1 with injectable faults.

``async with serve(repo, faults=Faults()) as server:`` starts two listeners: the main one
at ``server.url`` (counts requests, applies faults, then the repo's dynamic routes, then
its static files with HEAD, Range and ETag) and an "other origin" on another port at
``server.other_origin_url`` (same repo, no faults, its own counters) that the redirect
fault points at, so tests can check what crosses origins.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
import re
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from stagekit.testing.faults import Faults, Latency
from stagekit.testing.repo import Repo, StaticFile

__all__ = ["Counters", "RequestRecord", "Server", "negotiate", "serve"]

logger = logging.getLogger(__name__)


_RANGE = re.compile(r"bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*")
_URL_SAFE = "/:@-._~!$&'()*+,;="


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One answered (or abandoned) request, as the log of `Counters` keeps it.

    ``time`` is `time.monotonic()` when the request arrived; ``status`` is None when the
    request never got an answer (stalled, cancelled); ``auth_scheme`` is the scheme of the
    Authorization header ("Basic", "Bearer"), never the credentials.
    """

    time: float
    method: str
    path: str
    host: str
    status: int | None
    range: str | None
    auth_scheme: str | None
    faults: tuple[str, ...] = ()
    duration: float = 0.0

    @property
    def authorization(self) -> bool:
        """Whether the request carried an Authorization header."""
        return self.auth_scheme is not None


@dataclass(slots=True)
class Counters:
    """What a listener saw: totals, per path, concurrency, faults and a bounded log."""

    log_size: int = 10_000
    total: int = 0
    by_method_path: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_path: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    in_flight_by_host: Counter[str] = field(default_factory=Counter)
    max_in_flight_by_host: Counter[str] = field(default_factory=Counter)
    with_authorization: int = 0
    faults_applied: Counter[str] = field(default_factory=Counter)
    log: deque[RequestRecord] = field(init=False, repr=False)
    _waiters: set[asyncio.Future[None]] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        self.log = deque(maxlen=self.log_size)

    def count(self, path: str, method: str | None = None) -> int:
        """Requests for ``path`` (no leading slash), of ``method`` if given."""
        if method is None:
            return self.by_path[path]
        return self.by_method_path[(method.upper(), path)]

    def reset(self) -> None:
        """Forget everything but the requests in flight now (the maxima restart from them)."""
        self.total = self.with_authorization = 0
        for counter in (self.by_method_path, self.by_path, self.statuses, self.faults_applied):
            counter.clear()
        self.max_in_flight = self.in_flight
        self.in_flight_by_host = +self.in_flight_by_host
        self.max_in_flight_by_host = Counter(self.in_flight_by_host)
        self.log.clear()
        self._notify()

    async def wait_until(self, predicate: Callable[[Counters], bool]) -> None:
        """Return once ``predicate(self)`` holds; re-checked on every change, no polling."""
        loop = asyncio.get_running_loop()
        while not predicate(self):
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.add(waiter)
            try:
                await waiter
            finally:
                self._waiters.discard(waiter)

    def begin(self, method: str, path: str, host: str, auth_scheme: str | None) -> None:
        """Count a request arriving."""
        self.total += 1
        self.by_method_path[(method, path)] += 1
        self.by_path[path] += 1
        if auth_scheme is not None:
            self.with_authorization += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.in_flight_by_host[host] += 1
        self.max_in_flight_by_host[host] = max(self.max_in_flight_by_host[host],
                                               self.in_flight_by_host[host])
        self._notify()

    def end(self, record: RequestRecord) -> None:
        """Count a request leaving, answered or not."""
        self.in_flight -= 1
        self.in_flight_by_host[record.host] -= 1
        if record.status is not None:
            self.statuses[record.status] += 1
        self.log.append(record)
        self._notify()

    def _notify(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)


class Server:
    """A running fixture server; see `serve`. ``start()``/``stop()`` work without ``with``."""

    def __init__(self, repo: Repo, *, faults: Faults | None = None, host: str = "127.0.0.1",
                 port: int = 0, other_origin: bool = True) -> None:
        self.repo = repo
        self.faults = faults if faults is not None else Faults()
        self.counters = Counters()
        self.other_origin_counters = Counters()
        self.host = host
        self.port = port
        self._want_other_origin = other_origin
        self._runners: list[web.AppRunner] = []
        self._url: str | None = None
        self._other_url: str | None = None
        self._waiting: set[asyncio.Task[object]] = set()
        self._stopping = False
        self._etags: dict[str, tuple[bytes, str]] = {}
        #: Lines shown on the index page at ``GET /`` (e.g. the command that explores it).
        self.index_lines: list[str] = []

    @property
    def url(self) -> str:
        """Base URL with a trailing slash, e.g. ``http://127.0.0.1:PORT/``."""
        if self._url is None:
            raise RuntimeError("the fixture server is not started")
        return self._url

    @property
    def other_origin_url(self) -> str | None:
        """Base URL of the second listener (the redirect target), None if not started."""
        return self._other_url

    def url_for(self, path: str) -> str:
        """Absolute URL of a repo path (leading slash optional), percent-encoded."""
        return self.url + quote(path.lstrip("/"), safe=_URL_SAFE)

    def other_url_for(self, path: str) -> str:
        """Absolute URL of a repo path on the other origin."""
        if self._other_url is None:
            raise RuntimeError("the other origin listener is not started")
        return self._other_url + quote(path.lstrip("/"), safe=_URL_SAFE)

    async def start(self) -> Server:
        """Start listening (main, then other origin); returns self."""
        if self._runners:
            raise RuntimeError("the fixture server is already started")
        self._stopping = False
        try:
            port = await self._listen(self._make_app(self.counters, faults=True), self.port)
            self._url = f"http://{self.host}:{port}/"
            if self._want_other_origin:
                other = await self._listen(self._make_app(self.other_origin_counters,
                                                          faults=False), 0)
                self._other_url = f"http://{self.host}:{other}/"
        except BaseException:
            await self.stop()
            raise
        logger.debug("fixture server listening at %s (other origin %s)",
                     self._url, self._other_url)
        return self

    async def stop(self) -> None:
        """Stop both listeners; stalled and delayed requests are cancelled, none answered."""
        self._stopping = True
        for task in list(self._waiting):
            task.cancel()
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()
        self._url = self._other_url = None

    async def __aenter__(self) -> Server:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def wait(self, seconds: float | None, until: asyncio.Event | None = None) -> None:
        """Sleep ``seconds`` (forever if None), or until ``until`` is set if given, in a
        way `stop` cancels; used by faults."""
        task = asyncio.current_task()
        if self._stopping or task is None:
            raise asyncio.CancelledError
        self._waiting.add(task)
        try:
            if until is not None:
                await until.wait()
            elif seconds is None:
                await asyncio.get_running_loop().create_future()
            else:
                await asyncio.sleep(seconds)
        finally:
            self._waiting.discard(task)

    async def _listen(self, app: web.Application, port: int) -> int:
        # handler_cancellation: a client that gives up ends its stalled handler at once.
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True,
                               shutdown_timeout=2.0)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, self.host, port)
        await site.start()
        return runner.addresses[-1][1]

    def _make_app(self, counters: Counters, *, faults: bool) -> web.Application:
        app = web.Application(middlewares=[self._middleware(counters, faults=faults)])
        self.repo.add_routes(app)
        app.router.add_get("/{path:.*}", self._static)
        return app

    def _middleware(self, counters: Counters, *, faults: bool) -> Middleware:
        @web.middleware
        async def count_and_fault(request: web.Request, handler: Handler) -> web.StreamResponse:
            method, path = request.method, request.path.lstrip("/")
            host = request.headers.get("Host", "")
            auth = request.headers.get("Authorization")
            auth_scheme = (auth.split(" ", 1)[0] or "?") if auth is not None else None
            started = time.monotonic()
            counters.begin(method, path, host, auth_scheme)
            status: int | None = None
            applied: tuple[str, ...] = ()
            try:
                rules = self.faults.select(method, path) if faults else []
                applied = tuple(rule.name for rule in rules)
                for name in applied:
                    counters.faults_applied[name] += 1
                if rules:
                    logger.debug("faults %s on %s %s", applied, method, path)
                delay = sum(r.fault.seconds for r in rules if isinstance(r.fault, Latency))
                if delay:
                    await self.wait(delay)
                terminal = [r for r in rules if not isinstance(r.fault, Latency)]
                if terminal:
                    resp = await terminal[0].fault.respond(request, handler, self)
                else:
                    resp = await handler(request)
                status = resp.status
                return resp
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                counters.end(RequestRecord(
                    time=started, method=method, path=path, host=host, status=status,
                    range=request.headers.get("Range"), auth_scheme=auth_scheme,
                    faults=applied, duration=time.monotonic() - started))

        return count_and_fault

    async def _static(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        static = self.repo.files.get(path)
        if static is None and path == "":
            return web.Response(text=self._index_page(), content_type="text/html")
        if static is None:
            raise web.HTTPNotFound(text=f"404: no file {path!r} in this fixture repo\n")
        vary = {"Vary": "Accept"} if static.variants else {}
        if static.variants:
            chosen = negotiate(static, request.headers.get("Accept"))
            if chosen is None:
                types = ", ".join(v.content_type for v in (static, *static.variants))
                raise web.HTTPNotAcceptable(text=f"406: {path!r} is served as {types}\n")
            static = chosen
        body = static.body
        size = len(body)
        headers = {"Content-Type": static.content_type, "Accept-Ranges": "bytes",
                   "ETag": self._etag(path + "\0" + static.content_type, body), **vary,
                   **dict(static.headers)}
        if request.headers.get("If-None-Match") == headers["ETag"]:
            return web.Response(status=304, headers=headers)
        range_header = request.headers.get("Range")
        if_range = request.headers.get("If-Range")
        if range_header is None or (if_range is not None and if_range != headers["ETag"]):
            return web.Response(body=body, headers=headers)
        try:
            span = parse_range(range_header, size)
        except ValueError:
            headers["Content-Range"] = f"bytes */{size}"
            return web.Response(status=416, headers=headers)
        if span is None:
            return web.Response(body=body, headers=headers)
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        # The one copy per request: aiohttp sends bytes without copying, not memoryviews.
        return web.Response(status=206, body=body[start:end], headers=headers)

    def _index_page(self, most: int = 200) -> str:
        """What ``GET /`` shows a person: what this is, how to explore it, some files."""
        entry = self.repo.entry_path()
        paths = sorted(self.repo.files)
        items = "".join(f'<li><a href="/{quote(p, safe=_URL_SAFE)}">{html.escape(p)}</a></li>'
                        for p in paths[:most])
        more = f"<p>... and {len(paths) - most} more files</p>" if len(paths) > most else ""
        notes = "".join(f"<pre>{html.escape(line)}</pre>" for line in self.index_lines)
        return (f"<!doctype html><title>stagekit fixture repository</title>"
                f"<h1>stagekit fixture: {html.escape(type(self.repo).__name__)}</h1>"
                f'<p>Entry point: <a href="/{quote(entry, safe=_URL_SAFE)}">'
                f"{html.escape(self.url_for(entry))}</a></p>{notes}"
                f"<p>{len(paths)} static files</p><ul>{items}</ul>{more}")

    def _etag(self, path: str, body: bytes) -> str:
        cached = self._etags.get(path)
        if cached is not None and cached[0] is body:
            return cached[1]
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        self._etags[path] = (body, etag)
        return etag


def _accept_q(accept: str, content_type: str) -> float:
    """The quality ``accept`` gives ``content_type`` (exact type over ``type/*`` over ``*/*``)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    best: tuple[int, float] = (-1, 0.0)
    for item in accept.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        media = media.lower()
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media == kind:
            rank = 2
        elif media.endswith("/*") and kind.startswith(media[:-1]):
            rank = 1
        elif media == "*/*":
            rank = 0
        else:
            continue
        best = max(best, (rank, q))
    return best[1]


def negotiate(static: StaticFile, accept: str | None) -> StaticFile | None:
    """The representation of ``static`` that ``accept`` prefers (None: none acceptable)."""
    options = (static, *static.variants)
    if not accept or not accept.strip():
        return static
    scored = [(_accept_q(accept, option.content_type), -i) for i, option in enumerate(options)]
    q, neg_index = max(scored)
    return options[-neg_index] if q > 0 else None


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``(start, end)`` (end exclusive) of a single ``bytes=`` range over ``size`` bytes.

    None when the header is to be ignored (not ``bytes``, several ranges, bad syntax, as
    RFC 9110 allows); `ValueError` when the range is unsatisfiable (answer 416).
    """
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise ValueError(f"unsatisfiable range {header!r} for {size} bytes")
        return max(0, size - suffix), size
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise ValueError(f"unsatisfiable range {header!r} for {size} bytes")
    end = size if not last else min(int(last) + 1, size)
    return start, end


@contextlib.asynccontextmanager
async def serve(repo: Repo, *, faults: Faults | None = None, host: str = "127.0.0.1",
                port: int = 0) -> AsyncIterator[Server]:
    """Serve ``repo`` while the block runs; stops cleanly, cancelling stalled requests."""
    server = Server(repo, faults=faults, host=host, port=port)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
