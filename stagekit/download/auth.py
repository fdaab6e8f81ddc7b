"""Authentication a `Downloader` answers challenges with: anonymous (or basic) bearer tokens.

A registry that wants a token answers 401 with ``WWW-Authenticate: Bearer realm=...,
service=...,scope=...``; `BearerAuth` GETs the realm with ``service`` and ``scope``,
caches the token per ``(realm, service, scope)``, sends it with every later request to
the same resource (an OCI repository: ``/v2/<name>/...``), refreshes it shortly before it
expires, and fetches a new one when a request is rejected again with 401. Tokens and
credentials are never logged, put in an error message or shown by ``repr``.

Credentials belong to an origin, as Docker and containerd keep them per registry host:
`BearerAuth` answers only challenges of URLs on the origins it has credentials for (or,
anonymous, on the ``origin`` it was made for), so a foreign host that answers 401 with a
realm of its own never learns the registry's username and password, nor gets a token.
The token answer is read whole (it may come in several TCP writes), within a size cap and
a deadline.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

from stagekit.errors import BodyTooLargeError, DownloadError, HTTPStatusError
from stagekit.urls import origin as origin_of
from stagekit.urls import redact_url

__all__ = ["Auth", "BearerAuth", "Challenge", "parse_bearer_challenge", "resource_key"]

log = logging.getLogger(__name__)

# Docker's token spec: a token without ``expires_in`` lives 60 seconds.
DEFAULT_EXPIRES_IN = 60.0
_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_\-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')
_RESOURCE = re.compile(r"^(?P<base>.*?/v2/.+)/(?:manifests/[^/]+|blobs/[^/]+|tags/list)$")
_TOKEN_BODY_MAX = 1024 * 1024


class Auth(Protocol):
    """What a `Downloader` asks before a request and after a 401."""

    async def authorize(self, session: aiohttp.ClientSession, url: str) -> dict[str, str]:
        """Headers to add to a request to ``url`` (empty when nothing is known for it)."""
        ...

    async def challenged(
        self,
        session: aiohttp.ClientSession,
        url: str,
        response_headers: Mapping[str, str],
        sent_authorization: str | None,
    ) -> bool:
        """Answer a 401 from ``url``; True when retrying the request may now succeed."""
        ...


@dataclass(frozen=True, slots=True)
class Challenge:
    """A parsed ``Bearer`` challenge; ``scope`` may hold several space-separated scopes."""

    realm: str
    service: str | None = None
    scope: str | None = None
    error: str | None = None
    #: The credentials that answer it (set by `BearerAuth`; never shown).
    credentials: tuple[str, str] | None = dataclasses.field(default=None, repr=False)

    @property
    def cache_key(self) -> tuple[str, str | None, str | None]:
        """What a token is cached under."""
        return (self.realm, self.service, self.scope)


def parse_bearer_challenge(values: str | list[str]) -> Challenge | None:
    """The ``Bearer`` challenge among ``WWW-Authenticate`` values, or None if there is none."""
    for value in [values] if isinstance(values, str) else values:
        match = re.search(r"(?i)(?:^|,)\s*bearer\s+", value)
        if match is None:
            continue
        params: dict[str, str] = {}
        rest = value[match.end():]
        position = 0
        while position < len(rest):
            param = _PARAM.match(rest, position)
            if param is None or param.end() == position:
                break  # another scheme starts here
            raw = param.group(2)
            if raw.startswith('"'):
                raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            params[param.group(1).lower()] = raw
            position = param.end()
        realm = params.get("realm")
        if realm and urlsplit(realm).scheme in ("http", "https"):
            return Challenge(realm, params.get("service"), params.get("scope"),
                             params.get("error"))
    return None


def resource_key(url: str) -> str:
    """The resource a token is for: ``scheme://host/v2/<name>`` for registry URLs."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}".lower()
    match = _RESOURCE.match(parts.path)
    if match is not None:
        return origin + match.group("base")
    return origin + parts.path.rsplit("/", 1)[0]


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires_at: float

    def header(self) -> str:
        return f"Bearer {self.value}"


Credentials = tuple[str, str]
Origin = tuple[str, str, int | None]


def _origins_of(key: str) -> list[Origin]:
    """The origins a credentials key names: ``https://host:port``, or ``host[:port]``
    (then both http and https, each with its default port unless one is given)."""
    if "://" in key:
        return [origin_of(key)]
    return [origin_of(f"{scheme}://{key}") for scheme in ("https", "http")]


class BearerAuth:
    """Anonymous (or, with ``credentials``, basic-authenticated) Docker/OCI token auth.

    ``credentials`` is ``(user, password)`` for ``origin`` (the registry URL the user
    configured), or a mapping ``{"host[:port]" or "https://host:port": (user, password)}``
    looked up per host of the URL that is challenged. A challenge from any other origin is
    not answered (the request fails with its 401): credentials, and tokens, stay with the
    origin they are for. ``(user, password)`` without ``origin`` binds to the origin of the
    first URL challenged. ``timeout`` bounds one token request, ``max_body`` its answer.

    Safe to share between the tasks of one run: one token request per scope at a time,
    the others wait for it and reuse the token. ``clock`` (seconds) can be replaced by
    tests; ``refresh_margin`` is how long before expiry a token is renewed.
    """

    def __init__(
        self,
        credentials: Credentials | Mapping[str, Credentials] | None = None,
        *,
        origin: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        refresh_margin: float = 10.0,
        timeout: float = 60.0,
        max_body: int = _TOKEN_BODY_MAX,
    ) -> None:
        self._by_origin: dict[Origin, Credentials | None] = {}
        self._bind_first: Credentials | None = None
        if isinstance(credentials, Mapping):
            for key, pair in credentials.items():
                for o in _origins_of(key):
                    self._by_origin[o] = tuple(pair)  # type: ignore[assignment]
            if origin is not None:
                self._by_origin.setdefault(origin_of(origin), None)
        elif origin is not None:
            self._by_origin[origin_of(origin)] = credentials
        elif credentials is not None:
            self._bind_first = credentials
        self._credentials = credentials
        self.timeout = timeout
        self.max_body = max_body
        self.refused_challenges = 0
        self.clock = clock
        self.refresh_margin = refresh_margin
        self.tokens_fetched = 0
        self._challenges: dict[str, Challenge] = {}  # resource key -> last challenge
        self._tokens: dict[tuple[str, str | None, str | None], _Token] = {}
        self._locks: dict[tuple[str, str | None, str | None], asyncio.Lock] = {}

    def __repr__(self) -> str:
        user = "anonymous" if self._credentials is None else "with credentials"
        return f"<BearerAuth {user}, {len(self._tokens)} token(s) cached>"

    async def authorize(self, session: aiohttp.ClientSession, url: str) -> dict[str, str]:
        """The cached (or, if it expired, refreshed) token for ``url``'s resource."""
        challenge = self._challenges.get(resource_key(url))
        if challenge is None:
            return {}
        token = self._tokens.get(challenge.cache_key)
        if token is None or self._expired(token):
            token = await self._refresh(session, challenge, stale=token)
        return {"Authorization": token.header()}

    async def challenged(
        self,
        session: aiohttp.ClientSession,
        url: str,
        response_headers: Mapping[str, str],
        sent_authorization: str | None,
    ) -> bool:
        """Learn the challenge of a 401 and get a token unless another task just did."""
        getall = getattr(response_headers, "getall", None)
        values = getall("WWW-Authenticate", []) if getall else [
            v for k, v in response_headers.items() if k.lower() == "www-authenticate"]
        challenge = parse_bearer_challenge(list(values))
        if challenge is None:
            return False
        allowed, credentials = self._lookup(url)
        if not allowed:
            self.refused_challenges += 1
            log.info("not answering the challenge of %s: not an origin with credentials "
                     "or the registry's", redact_url(url))
            return False
        if credentials is not None and urlsplit(url).scheme == "https" \
                and urlsplit(challenge.realm).scheme != "https":
            raise DownloadError(f"refused to send credentials for {redact_url(url)} to the "
                                f"plain-http token realm {redact_url(challenge.realm)}",
                                url=redact_url(url))
        challenge = Challenge(challenge.realm, challenge.service, challenge.scope,
                              challenge.error, credentials)
        self._challenges[resource_key(url)] = challenge
        current = self._tokens.get(challenge.cache_key)
        # Replace the token only if it is the one that was refused.
        refused = current if current is not None and current.header() == sent_authorization \
            else None
        await self._refresh(session, challenge, stale=refused)
        return True

    def _lookup(self, url: str) -> tuple[bool, Credentials | None]:
        """Whether a challenge of ``url`` may be answered, and with which credentials."""
        target = origin_of(url)
        if self._bind_first is not None:
            self._by_origin[target] = self._bind_first
            self._bind_first = None
        if not self._by_origin:
            return True, None  # anonymous, made for no origin in particular
        if target not in self._by_origin:
            return False, None
        return True, self._by_origin[target]

    def _expired(self, token: _Token) -> bool:
        return self.clock() >= token.expires_at

    def _lock(self, key: tuple[str, str | None, str | None]) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def _refresh(
        self,
        session: aiohttp.ClientSession,
        challenge: Challenge,
        *,
        stale: _Token | None,
    ) -> _Token:
        key = challenge.cache_key
        async with self._lock(key):
            current = self._tokens.get(key)
            # Another task may have replaced the token while this one waited for the lock.
            if current is not None and current is not stale and not self._expired(current):
                return current
            token = await self._fetch_token(session, challenge)
            self._tokens[key] = token
            return token

    async def _fetch_token(self, session: aiohttp.ClientSession, challenge: Challenge) -> _Token:
        params: list[tuple[str, str]] = []
        if challenge.service:
            params.append(("service", challenge.service))
        for scope in (challenge.scope or "").split():
            params.append(("scope", scope))
        headers = {"Accept": "application/json"}
        if challenge.credentials is not None:
            pair = ":".join(challenge.credentials).encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        realm = redact_url(challenge.realm)
        what = f"token from {realm} (scope {challenge.scope or '-'})"
        try:
            async with asyncio.timeout(self.timeout), session.get(
                    challenge.realm, params=params, headers=headers,
                    allow_redirects=False) as response:
                if response.status != 200:
                    raise HTTPStatusError(
                        f"could not get a {what}: HTTP {response.status} {response.reason or ''}"
                        .rstrip(), url=realm, status=response.status)
                body = await self._read_body(response, what, realm)
        except (aiohttp.ClientError, TimeoutError) as exc:
            why = (f"no answer within {self.timeout:g} s" if isinstance(exc, TimeoutError)
                   else type(exc).__name__)
            raise DownloadError(f"could not get a {what}: {why}", url=realm) from None
        try:
            data = json.loads(body)
            value = data.get("token") or data.get("access_token")
            expires_in = float(data.get("expires_in") or DEFAULT_EXPIRES_IN)
        except (ValueError, AttributeError, TypeError):
            raise DownloadError(f"the answer to a {what} is not a token", url=realm) from None
        if not isinstance(value, str) or not value:
            raise DownloadError(f"the answer to a {what} has no token", url=realm)
        self.tokens_fetched += 1
        expires_in = min(max(expires_in, 0.0), 365 * 86400.0)  # nan/inf/negative: hostile
        margin = min(self.refresh_margin, expires_in / 10)
        log.debug("got a %s valid %.0f s", what, expires_in)
        return _Token(value, self.clock() + expires_in - margin)

    async def _read_body(self, response: aiohttp.ClientResponse, what: str, realm: str) -> bytes:
        """The whole answer (it may come in several writes), at most ``max_body`` bytes."""
        parts: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self.max_body:
                raise BodyTooLargeError(
                    f"the answer to a {what} is larger than the limit of {self.max_body} "
                    "bytes (BearerAuth max_body)", url=realm, limit="max_body",
                    value=self.max_body)
            parts.append(chunk)
        return b"".join(parts)
