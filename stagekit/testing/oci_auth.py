"""Bearer token auth of a fixture registry, as the Docker token protocol does it.

A request without a valid token gets 401 and a challenge ``WWW-Authenticate: Bearer
realm="<base>/token",service="<service>",scope="repository:<name>:pull"``;
``GET /token?service=...&scope=...`` answers ``{"token", "access_token", "expires_in",
"issued_at"}``. Tokens are opaque, expire after ``expires_in`` seconds of ``clock()``, and
grant only the repositories named in their scopes.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

__all__ = ["TokenAuth", "error_response"]


def error_response(status: int, code: str, message: str, detail: object = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    """An error in the Distribution Spec body format ``{"errors": [{code, message, detail}]}``."""
    body = json.dumps({"errors": [{"code": code, "message": message, "detail": detail}]})
    return web.Response(status=status, body=body.encode(), headers={
        "Content-Type": "application/json",
        "Docker-Distribution-API-Version": "registry/2.0",
        **(headers or {}),
    })


@dataclass(frozen=True, slots=True)
class _Token:
    expires_at: float
    repositories: frozenset[str]


def _scoped_repositories(scopes: list[str]) -> frozenset[str]:
    names = set()
    for scope in " ".join(scopes).split():
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        if kind == "repository" and name and "pull" in actions.split(","):
            names.add(name)
    return frozenset(names)


class TokenAuth:
    """Issue and check bearer tokens; ``tokens_issued`` counts every token handed out.

    ``clock`` (seconds, default `time.time`) may be replaced by tests to expire tokens
    without waiting; `expire_all` invalidates every token at once.
    """

    def __init__(self, service: str, expires_in: int,
                 credentials: tuple[str, str] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.service = service
        self.expires_in = expires_in
        self.credentials = credentials
        self.clock = clock
        self.tokens_issued = 0
        self._tokens: dict[str, _Token] = {}

    def expire_all(self) -> None:
        """Make every token issued so far invalid (as if it had expired)."""
        self._tokens.clear()

    def challenge(self, request: web.Request, name: str | None, error: str | None = None
                  ) -> web.Response:
        """The 401 answer that tells a client where to get a token."""
        realm = f"{request.url.origin()}/token"
        value = f'Bearer realm="{realm}",service="{self.service}"'
        if name is not None:
            value += f',scope="repository:{name}:pull"'
        if error is not None:
            value += f',error="{error}"'
        return error_response(401, "UNAUTHORIZED", "authentication required",
                              [{"Type": "repository", "Name": name, "Action": "pull"}]
                              if name else None, {"WWW-Authenticate": value})

    def check(self, request: web.Request, name: str | None) -> web.Response | None:
        """None when ``request`` may read ``name`` (any valid token for the base route)."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return self.challenge(request, name)
        known = self._tokens.get(token.strip())
        if known is None or self.clock() >= known.expires_at:
            return self.challenge(request, name, "invalid_token")
        if name is not None and name not in known.repositories:
            return self.challenge(request, name, "insufficient_scope")
        return None

    async def handle_token(self, request: web.Request) -> web.Response:
        """``GET /token``: a new token for the requested scopes."""
        service = request.query.get("service")
        if service is not None and service != self.service:
            return error_response(400, "UNSUPPORTED", f"unknown service {service!r}")
        if self.credentials is not None and not self._basic_ok(request):
            return error_response(401, "UNAUTHORIZED", "bad credentials for token",
                                  headers={"WWW-Authenticate": 'Basic realm="token"'})
        now = self.clock()
        token = secrets.token_urlsafe(24)
        self._tokens[token] = _Token(now + self.expires_in,
                                     _scoped_repositories(request.query.getall("scope", [])))
        self.tokens_issued += 1
        issued_at = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return web.json_response({"token": token, "access_token": token,
                                  "expires_in": self.expires_in, "issued_at": issued_at})

    def _basic_ok(self, request: web.Request) -> bool:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return (user, password) == self.credentials
