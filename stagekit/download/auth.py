"""Authentication a `Downloader` answers challenges with: anonymous (or basic) bearer tokens.

A registry that wants a token answers 401 with ``WWW-Authenticate: Bearer realm=...,
service=...,scope=...``; `BearerAuth` GETs the realm with ``service`` and ``scope``,
caches the token per ``(realm, service, scope)``, sends it with every later request to
the same resource (an OCI repository: ``/v2/<name>/...``), refreshes it shortly before it
expires, and fetches a new one when a request is rejected again with 401. Tokens and
credentials are never logged, put in an error message or shown by ``repr``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

from stagekit.errors import DownloadError, HTTPStatusError
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


class BearerAuth:
    """Anonymous (or, with ``credentials``, basic-authenticated) Docker/OCI token auth.

    Safe to share between the tasks of one run: one token request per scope at a time,
    the others wait for it and reuse the token. ``clock`` (seconds) can be replaced by
    tests; ``refresh_margin`` is how long before expiry a token is renewed.
    """

    def __init__(
        self,
        credentials: tuple[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        refresh_margin: float = 10.0,
    ) -> None:
        self._credentials = credentials
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
        self._challenges[resource_key(url)] = challenge
        current = self._tokens.get(challenge.cache_key)
        # Replace the token only if it is the one that was refused.
        refused = current if current is not None and current.header() == sent_authorization \
            else None
        await self._refresh(session, challenge, stale=refused)
        return True

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
        if self._credentials is not None:
            pair = ":".join(self._credentials).encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        realm = redact_url(challenge.realm)
        what = f"token from {realm} (scope {challenge.scope or '-'})"
        try:
            async with session.get(challenge.realm, params=params, headers=headers) as response:
                if response.status != 200:
                    raise HTTPStatusError(
                        f"could not get a {what}: HTTP {response.status} {response.reason or ''}"
                        .rstrip(), url=realm, status=response.status)
                body = await response.content.read(_TOKEN_BODY_MAX)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DownloadError(f"could not get a {what}: {type(exc).__name__}",
                                url=realm) from None
        try:
            data = json.loads(body)
            value = data.get("token") or data.get("access_token")
            expires_in = float(data.get("expires_in") or DEFAULT_EXPIRES_IN)
        except (ValueError, AttributeError, TypeError):
            raise DownloadError(f"the answer to a {what} is not a token", url=realm) from None
        if not isinstance(value, str) or not value:
            raise DownloadError(f"the answer to a {what} has no token", url=realm)
        self.tokens_fetched += 1
        margin = min(self.refresh_margin, expires_in / 10)
        log.debug("got a %s valid %.0f s", what, expires_in)
        return _Token(value, self.clock() + expires_in - margin)
