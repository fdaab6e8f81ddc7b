"""Faults the fixture server injects: what can go wrong with a remote, on purpose.

A `FaultRule` says which requests a fault hits (URL path glob or regex, methods, `rate`,
`times`) and what happens (one of the fault kinds below). `Faults` holds the rules, may be
changed while the server runs, and picks the faults of each request with a seeded RNG so
runs are reproducible. Kinds:

- `Latency`: wait before answering; adds up with every other matching fault.
- `Status`: answer with an error status (500, 503, 404...).
- `RateLimit`: answer 429 with ``Retry-After`` (seconds, or an HTTP-date).
- `Reset`: send the headers and part of the body, then reset the connection (TCP RST).
- `Truncate`: send a correct Content-Length but only part of the body, then close.
- `Corrupt`: send the full length with some bytes flipped, so digests do not match.
- `Stall`: never answer, until the client disconnects or the server stops.
- `Redirect`: 302 to the same path on the server's other origin (another port).

Lower-case constructors (`latency(0.2, path="*.jar")`, `status(503, times=2)`...) build
rules in one call.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import fnmatch
import logging
import random
import re
import socket
import struct
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from aiohttp import web

__all__ = [
    "Corrupt",
    "Fault",
    "FaultContext",
    "FaultRule",
    "Faults",
    "Hold",
    "Latency",
    "RateLimit",
    "Redirect",
    "Reset",
    "Stall",
    "Status",
    "Truncate",
    "corrupt",
    "hold",
    "latency",
    "rate_limit",
    "redirect",
    "reset",
    "stall",
    "status",
    "truncate",
]

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FaultContext(Protocol):
    """What a fault needs from the server applying it."""

    @property
    def other_origin_url(self) -> str | None:
        """Base URL of the second listener, with a trailing slash (None if not started)."""
        ...

    async def wait(self, seconds: float | None, until: asyncio.Event | None = None) -> None:
        """Sleep ``seconds`` (forever if None), or until ``until`` is set if given;
        cancelled when the server stops."""
        ...


class Fault:
    """Base of fault kinds: `respond` replaces the normal handling of a request."""

    name: ClassVar[str] = "fault"

    async def respond(self, request: web.Request, handler: Handler,
                      ctx: FaultContext) -> web.StreamResponse:
        """Answer ``request``; ``handler`` gives the response the server would have sent."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Latency(Fault):
    """Wait ``seconds`` before answering (applied with, not instead of, other faults)."""

    seconds: float
    name: ClassVar[str] = "latency"

    async def respond(self, request: web.Request, handler: Handler,
                      ctx: FaultContext) -> web.StreamResponse:
        """Wait, then answer normally."""
        await ctx.wait(self.seconds)
        return await handler(request)


@dataclass(frozen=True, slots=True)
class Status(Fault):
    """Answer with status ``code`` and a short text body (default names the fault)."""

    code: int
    body: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    name: ClassVar[str] = "status"

    async def respond(self, request: web.Request, handler: Handler,
                      ctx: FaultContext) -> web.StreamResponse:
        """Answer the error without touching the repo."""
        text = self.body if self.body is not None else f"{self.code}: injected fault\n"
        return web.Response(status=self.code, text=text, headers=dict(self.headers))


@dataclass(frozen=True, slots=True)
class RateLimit(Fault):
    """Answer 429 with ``Retry-After``.

    ``retry_after`` in seconds is sent as an integer, or as an HTTP-date that far in the
    future when ``http_date`` is true; a `datetime` is always sent as an HTTP-date; None
    sends no ``Retry-After``.
    """

    retry_after: float | dt.datetime | None = 1
    http_date: bool = False
    name: ClassVar[str] = "rate_limit"

    def header_value(self) -> str | None:
        """The ``Retry-After`` value to send now."""
        when = self.retry_after
        if when is None:
            return None
        if isinstance(when, dt.datetime):
            return _http_date(when)
        if self.http_date:
            return _http_date(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=when))
        return str(max(0, round(when)))

    async def respond(self, request: web.Request, handler: Handler,
                      ctx: FaultContext) -> web.StreamResponse:
        """Answer 429."""
        value = self.header_value()
        headers = {"Retry-After": value} if value is not None else {}
        return web.Response(status=429, text="429: rate limited (injected fault)\n",
                            headers=headers)


@dataclass(frozen=True, slots=True)
class Reset(Fault):
    """Send the headers and the first ``keep`` fraction of the body, then reset (TCP RST)."""

    keep: float = 0.5
    name: ClassVar[str] = "reset"

    async def respond(self, request: web.Request, handler: Handler,
                      ctx: FaultContext) -> web.StreamResponse:
        """Answer partly, then abort the connection."""
        return await _send_partial(request, await _answer(handler, request), self.keep,
                                   reset=True)


@dataclass(frozen=True, slots=True)
class Truncate(Fault):
    """Send the full Content-Length but only the first ``keep`` fraction of the body, then close."""

    keep: float = 0.5
    name: ClassVar[str] = "truncate"

    async def respond(self, request: web.Request, handler: Handler,
                      ctx: FaultContext) -> web.StreamResponse:
        """Answer partly, then close the connection cleanly."""
        return await _send_partial(request, await _answer(handler, request), self.keep,
                                   reset=False)


@dataclass(frozen=True, slots=True)
class Corrupt(Fault):
    """Flip ``nbytes`` bytes spread over the body: same length, different digest."""

    nbytes: int = 1
    name: ClassVar[str] = "corrupt"

    def corrupted(self, body: bytes | bytearray) -> bytes:
        """``body`` with bytes flipped (unchanged only when empty)."""
        out = bytearray(body)
        count = max(1, self.nbytes)
        for i in range(count):
            if out:
                out[len(out) * (i + 1) // (count + 1)] ^= 0xFF
        return bytes(out)

    async def respond(self, request: web.Request, handler: Handler,
                      ctx: FaultContext) -> web.StreamResponse:
        """Answer with the flipped body; headers (Content-Length, ETag) are kept."""
        resp = await handler(request)
        body = _body_of(resp)
        if body is None:
            logger.warning("corrupt fault cannot alter the response to %s", request.path)
            return resp
        assert isinstance(resp, web.Response)
        resp.body = self.corrupted(body)
        return resp


@dataclass(frozen=True, slots=True)
class Stall(Fault):
    """Never answer; the request ends when the client disconnects or the server stops."""

    name: ClassVar[str] = "stall"

    async def respond(self, request: web.Request, handler: Handler,
                      ctx: FaultContext) -> web.StreamResponse:
        """Wait forever (the server cancels the wait when it stops)."""
        await ctx.wait(None)
        raise AssertionError("a stall ended without being cancelled")


@dataclass(frozen=True, slots=True)
class Hold(Fault):
    """Answer normally once ``gate`` is set: holds a run at a known point (e.g. to look at
    it mid-way) without depending on how fast the machine is."""

    gate: asyncio.Event
    name: ClassVar[str] = "hold"

    async def respond(self, request: web.Request, handler: Handler,
                      ctx: FaultContext) -> web.StreamResponse:
        """Wait for the gate (the server cancels the wait when it stops), then answer."""
        await ctx.wait(None, until=self.gate)
        return await handler(request)


@dataclass(frozen=True, slots=True)
class Redirect(Fault):
    """Redirect (``code``, 302 by default) to the same path and query on the other origin."""

    code: int = 302
    name: ClassVar[str] = "redirect"

    async def respond(self, request: web.Request, handler: Handler,
                      ctx: FaultContext) -> web.StreamResponse:
        """Answer the redirect."""
        base = ctx.other_origin_url
        if base is None:
            raise RuntimeError("redirect fault needs the server's other origin listener")
        location = base + request.rel_url.raw_path.lstrip("/")
        if request.rel_url.raw_query_string:
            location += "?" + request.rel_url.raw_query_string
        return web.Response(status=self.code, headers={"Location": location},
                            text=f"moved to {location}\n")


@dataclass(eq=False, slots=True)
class FaultRule:
    """Which requests a fault hits.

    ``pattern``: an `fnmatch` glob on the URL path without its leading slash (``*`` also
    matches ``/``), or a compiled regex searched in that path. ``methods``: upper-case
    methods (None = all). ``rate``: probability of applying to a matching request, drawn
    from the seeded RNG of `Faults`. ``times``: only the first N matching requests are
    considered (None = all). ``matched`` and ``applied`` count what happened.
    """

    pattern: str | re.Pattern[str]
    fault: Fault
    methods: frozenset[str] | None = None
    rate: float = 1.0
    times: int | None = None
    matched: int = field(default=0, init=False)
    applied: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.methods is not None:
            self.methods = frozenset(m.upper() for m in self.methods)
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be within [0, 1], got {self.rate}")
        if self.times is not None and self.times < 0:
            raise ValueError(f"fault times must be >= 0, got {self.times}")

    @property
    def name(self) -> str:
        """The fault kind's name, as counted in ``counters.faults_applied``."""
        return self.fault.name

    def matches(self, method: str, path: str) -> bool:
        """Whether the rule's pattern and methods select this request."""
        if self.methods is not None and method.upper() not in self.methods:
            return False
        if isinstance(self.pattern, re.Pattern):
            return self.pattern.search(path) is not None
        return fnmatch.fnmatchcase(path, self.pattern)


class Faults:
    """The rules a server applies, in the order added; safe to change while serving.

    For each request, every matching `Latency` rule applies, then the first other rule
    that matches and passes its ``times`` and ``rate`` decides the answer; the rules after
    it are not consulted (they neither count the request nor draw from the RNG).
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.rules: list[FaultRule] = []
        self._rng = random.Random(seed)

    def add(self, rule: FaultRule) -> FaultRule:
        """Add ``rule`` (applied after the rules already there) and return it."""
        self.rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        """Remove ``rule``; no error if it is not there."""
        if rule in self.rules:
            self.rules.remove(rule)

    def clear(self) -> None:
        """Remove every rule."""
        self.rules.clear()

    def select(self, method: str, path: str) -> list[FaultRule]:
        """The rules that apply to one request: latencies first, then at most one other."""
        chosen: list[FaultRule] = []
        terminal: FaultRule | None = None
        for rule in list(self.rules):
            is_latency = isinstance(rule.fault, Latency)
            if (terminal is not None and not is_latency) or not rule.matches(method, path):
                continue
            if rule.times is not None and rule.matched >= rule.times:
                continue
            rule.matched += 1
            if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                continue
            rule.applied += 1
            if is_latency:
                chosen.append(rule)
            else:
                terminal = rule
        if terminal is not None:
            chosen.append(terminal)
        return chosen


def _http_date(when: dt.datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return email.utils.format_datetime(when.astimezone(dt.UTC), usegmt=True)


def _body_of(resp: web.StreamResponse) -> bytes | bytearray | None:
    """The bytes of a response not yet sent, or None when it streams or is already sent."""
    if resp.prepared or not isinstance(resp, web.Response):
        return None
    body = resp.body
    return body if isinstance(body, bytes | bytearray) else None


async def _answer(handler: Handler, request: web.Request) -> web.StreamResponse:
    """The handler's answer, an HTTP error it raised included (a 404 is cut like any
    other answer, so a fault counted as applied always reaches the client)."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        return web.Response(status=exc.status, reason=exc.reason, text=exc.text)


async def _send_partial(request: web.Request, resp: web.StreamResponse, keep: float, *,
                        reset: bool) -> web.StreamResponse:
    """Send ``resp``'s headers and the first ``keep`` of its body, then cut the connection."""
    body = _body_of(resp)
    if body is None:
        logger.warning("%s fault cannot alter the response to %s",
                       "reset" if reset else "truncate", request.path)
        return resp
    out = web.StreamResponse(status=resp.status, reason=resp.reason, headers=resp.headers)
    out.content_length = len(body)
    writer = await out.prepare(request)
    transport = request.transport
    if writer is None or transport is None:
        return out
    # A zero high-water mark makes drain() wait until the kernel has every byte we wrote,
    # so the client sees the partial body before the connection goes away.
    transport.set_write_buffer_limits(high=0)
    cut = min(len(body), max(0, int(len(body) * keep)))
    if request.method != "HEAD" and cut:
        await writer.write(memoryview(body)[:cut])
    else:
        writer.send_headers()
    await writer.drain()
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger 0: close() sends RST instead of FIN, as a crashed peer or middlebox does.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    return out


def _rule(fault: Fault, path: str | re.Pattern[str], methods: Iterable[str] | None,
          rate: float, times: int | None) -> FaultRule:
    return FaultRule(path, fault, methods=frozenset(methods) if methods else None,
                     rate=rate, times=times)


def latency(seconds: float, *, path: str | re.Pattern[str] = "*",
            methods: Iterable[str] | None = None, rate: float = 1.0,
            times: int | None = None) -> FaultRule:
    """A rule adding ``seconds`` of latency."""
    return _rule(Latency(seconds), path, methods, rate, times)


def status(code: int, *, body: str | None = None, path: str | re.Pattern[str] = "*",
           methods: Iterable[str] | None = None, rate: float = 1.0,
           times: int | None = None) -> FaultRule:
    """A rule answering status ``code``."""
    return _rule(Status(code, body), path, methods, rate, times)


def rate_limit(retry_after: float | dt.datetime | None = 1, *, http_date: bool = False,
               path: str | re.Pattern[str] = "*", methods: Iterable[str] | None = None,
               rate: float = 1.0, times: int | None = None) -> FaultRule:
    """A rule answering 429 with ``Retry-After``."""
    return _rule(RateLimit(retry_after, http_date), path, methods, rate, times)


def reset(keep: float = 0.5, *, path: str | re.Pattern[str] = "*",
          methods: Iterable[str] | None = None, rate: float = 1.0,
          times: int | None = None) -> FaultRule:
    """A rule resetting the connection after part of the body."""
    return _rule(Reset(keep), path, methods, rate, times)


def truncate(keep: float = 0.5, *, path: str | re.Pattern[str] = "*",
             methods: Iterable[str] | None = None, rate: float = 1.0,
             times: int | None = None) -> FaultRule:
    """A rule closing the connection after part of the body."""
    return _rule(Truncate(keep), path, methods, rate, times)


def corrupt(nbytes: int = 1, *, path: str | re.Pattern[str] = "*",
            methods: Iterable[str] | None = None, rate: float = 1.0,
            times: int | None = None) -> FaultRule:
    """A rule flipping bytes of the body."""
    return _rule(Corrupt(nbytes), path, methods, rate, times)


def stall(*, path: str | re.Pattern[str] = "*", methods: Iterable[str] | None = None,
          rate: float = 1.0, times: int | None = None) -> FaultRule:
    """A rule that never answers."""
    return _rule(Stall(), path, methods, rate, times)


def hold(gate: asyncio.Event, *, path: str | re.Pattern[str] = "*",
         methods: Iterable[str] | None = None, times: int | None = None) -> FaultRule:
    """A rule that answers only once ``gate`` is set."""
    return _rule(Hold(gate), path, methods, 1.0, times)


def redirect(code: int = 302, *, path: str | re.Pattern[str] = "*",
             methods: Iterable[str] | None = None, rate: float = 1.0,
             times: int | None = None) -> FaultRule:
    """A rule redirecting to the other origin."""
    return _rule(Redirect(code), path, methods, rate, times)
