"""Keep credentials out of anything stagekit writes: catalog rows, logs, errors, tables.

`redact_url` drops ``user:password@`` and masks query parameters that carry secrets
(tokens, signatures, API keys); `redact_text` does the same to every URL inside free text
such as an error message. Neither ever raises: they run on error paths.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["REDACTED", "has_credentials", "redact_text", "redact_url"]

REDACTED = "REDACTED"

# Names compared lower-cased with "-" and "_" removed, so "X-Amz-Signature" and
# "access_token" match too.
_SECRET_NAMES = frozenset(
    {
        "token",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "authtoken",
        "auth",
        "authorization",
        "password",
        "passwd",
        "pwd",
        "secret",
        "clientsecret",
        "key",
        "apikey",
        "accesskey",
        "privatetoken",
        "signature",
        "sig",
        "xamzsignature",
        "xamzcredential",
        "xamzsecuritytoken",
        "xgoogsignature",
        "xgoogcredential",
        "session",
        "sessionid",
    }
)
_SECRET_PARTS = ("token", "secret", "password", "passwd", "signature", "credential", "apikey")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")


def _is_secret_name(name: str) -> bool:
    norm = name.lower().replace("-", "").replace("_", "")
    return norm in _SECRET_NAMES or any(part in norm for part in _SECRET_PARTS)


def _query_pairs(query: str) -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = []
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        pairs.append((name, value if sep else None))
    return pairs


def _redact_pair(name: str, value: str | None) -> str:
    if value is None:
        return name
    return f"{name}={REDACTED}" if value and _is_secret_name(name) else f"{name}={value}"


def has_credentials(url: str) -> bool:
    """Whether ``url`` carries userinfo (``user:pass@``) or a secret-looking query parameter."""
    try:
        parts = urlsplit(url)
    except (TypeError, ValueError):
        return "@" in str(url)
    if "@" in parts.netloc:
        return True
    if not parts.query:
        return False
    pairs = _query_pairs(parts.query)
    return any(value not in (None, "", REDACTED) and _is_secret_name(name) for name, value in pairs)


def redact_url(url: str) -> str:
    """``url`` without userinfo and with secret query values replaced by ``REDACTED``."""
    if isinstance(url, str) and "@" not in url and "?" not in url:
        return url  # nothing to hide: the common case, kept cheap
    try:
        parts = urlsplit(url)
    except (TypeError, ValueError):
        # Not parseable as a URL: still never echo what looks like userinfo.
        return re.sub(r"//[^/@\s]*@", "//", str(url))
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        query = "&".join(_redact_pair(name, value) for name, value in _query_pairs(query))
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """``text`` with every URL in it passed through `redact_url` (for error messages)."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
