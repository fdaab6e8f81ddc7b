"""URLs: keep credentials out of what stagekit writes; decide which URLs a remote may hand over.

`redact_url` drops ``user:password@`` (also a password with an unencoded ``/``, ``#`` or
``?``) and masks query parameters that carry secrets (tokens, signatures, API keys);
`redact_text` does the same to every URL inside free text such as an error message.
Neither ever raises: they run on error paths. `split_credentials` turns userinfo into a
Basic ``Authorization`` value.

`handed_url` is the one check for every URL a remote hands over (``Link`` headers,
redirects, token realms, OCI ``urls``, mirror lists): http(s) only, no userinfo of its
own, and on the remote's origin unless the format allows another. `safe_segments` is the
check for paths built from remote data (Maven coordinates, Debian components): each
segment percent-decoded, then refused if it could leave the directory.
"""

from __future__ import annotations

import base64
import functools
import re
from urllib.parse import SplitResult, quote, unquote, urljoin, urlsplit, urlunsplit

from stagekit.errors import UnsafePathError, UnsafeURLError

__all__ = [
    "REDACTED",
    "encode_userinfo",
    "handed_url",
    "has_credentials",
    "origin",
    "redact_text",
    "redact_url",
    "safe_segments",
    "split_credentials",
    "split_userinfo",
]

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


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_HOST_PORT = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._\-~%]+)(?::\d*)?$")


def split_userinfo(url: str, *, strict: bool = True) -> tuple[str, str | None]:
    """``(url without userinfo, userinfo or None)``, also for userinfo that holds an
    unencoded ``/``, ``?`` or ``#`` (which `urlsplit` would read as path, query or fragment).

    The userinfo ends at the last ``@`` that is followed by a plain ``host[:port]``; text
    before it counts as userinfo when it has no ``/?#`` at all, or when it looks like
    ``user:password`` rather than ``host:port/path``. With ``strict=False`` (redaction)
    an ambiguous ``a:123/b@host`` counts as userinfo too: better hide a path than leak.
    """
    if "@" not in url:  # no userinfo possible: the common case, kept cheap
        return url, None
    match = _SCHEME.match(url)
    if match is None:
        return url, None
    start = match.end()
    rest = url[start:]
    at = len(rest)
    while True:
        at = rest.rfind("@", 0, at)
        if at < 0:
            return url, None
        end = len(rest)
        for stop in "/?#":
            found = rest.find(stop, at + 1)
            if found >= 0:
                end = min(end, found)
        host = rest[at + 1 : end]
        if not _HOST_PORT.match(host):
            continue
        userinfo = rest[:at]
        cut = min((i for i in (userinfo.find(c) for c in "/?#") if i >= 0), default=-1)
        if cut >= 0:
            # "host:8080/path@x" is a path with an "@"; "user:pa/ss@host" is userinfo.
            colon = userinfo.find(":")
            if colon < 0 or colon > cut or (strict and userinfo[colon + 1 : cut].isdigit()):
                return url, None
        return url[:start] + rest[at + 1 :], userinfo


def encode_userinfo(url: str) -> str:
    """``url`` with its user and password percent-encoded, so that joining paths to it and
    parsing it work even when the user typed a password with ``/``, ``#`` or ``?``.

    Remotes call this on the URL the user gives them; what was already encoded stays so.
    """
    bare, userinfo = split_userinfo(url)
    if userinfo is None:
        return url
    user, colon, password = userinfo.partition(":")
    encoded = quote(unquote(user), safe="") + colon + quote(unquote(password), safe="")
    scheme, rest = bare.split("://", 1)
    return f"{scheme}://{encoded}@{rest}"


def split_credentials(url: str) -> tuple[str, str | None]:
    """``url`` without userinfo, and the Basic ``Authorization`` value its userinfo means.

    User and password are percent-decoded (a password may also be given unencoded).
    """
    bare, userinfo = split_userinfo(url)
    if userinfo is None:
        return url, None
    user, _, password = userinfo.partition(":")
    pair = f"{unquote(user)}:{unquote(password)}".encode()
    return bare, "Basic " + base64.b64encode(pair).decode("ascii")


def has_credentials(url: str) -> bool:
    """Whether ``url`` carries userinfo (``user:pass@``) or a secret-looking query parameter."""
    if isinstance(url, str) and split_userinfo(url, strict=False)[1] is not None:
        return True
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
    if isinstance(url, str):
        url = split_userinfo(url, strict=False)[0]
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


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of ``url``, lower-cased, with the scheme's default port."""
    return _origin_of(urlsplit(split_userinfo(url)[0]))


def _origin_of(parts: SplitResult) -> tuple[str, str, int | None]:
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


# A remote hands many URLs over from one page: its base is parsed once. Keyed by the
# base without userinfo, so no credentials are kept here.
@functools.lru_cache(maxsize=64)
def _base_view(bare_base: str) -> tuple[str | None, tuple[str, str, int | None]]:
    """``scheme://netloc`` of a plain http(s) base (None otherwise), and its origin."""
    parts = urlsplit(bare_base)
    plain = parts.scheme.lower() in ("http", "https") and "@" not in parts.netloc
    return (f"{parts.scheme}://{parts.netloc}" if plain else None), _origin_of(parts)


# What `urljoin` would rewrite in an absolute path (dot segments, empty segments,
# characters urlsplit drops) or what needs the userinfo checks: the slow path.
_NOT_PLAIN_PATH = re.compile(r"/\.|//|[@\\\t\r\n]")


def _plain_join(bare_base: str, url: str) -> str | None:
    """``urljoin(bare_base, url)`` when ``url`` is a plain absolute path on an http(s)
    base, which stays on the base's origin and needs no other check; None otherwise."""
    if url[:1] != "/" or _NOT_PLAIN_PATH.search(url):
        return None
    prefix = _base_view(bare_base)[0]
    return None if prefix is None else prefix + url


def handed_url(url: str, *, base: str, what: str, same_origin: bool = True) -> str:
    """The absolute URL a remote at ``base`` handed over as ``url``, once it is safe to follow.

    ``url`` may be relative (it is joined to ``base``). It must be http or https (a remote
    never makes stagekit read a local file), carry no userinfo of its own and, unless
    ``same_origin`` is False (the format allows another host: redirects, token realms, OCI
    ``urls``), be on ``base``'s origin. On the same origin the user's own credentials in
    ``base`` are kept. Raises `UnsafeURLError` naming ``what``, the URL and why.
    """
    bare_base, base_userinfo = split_userinfo(base)
    try:
        stripped = url.strip()
        target = _plain_join(bare_base, stripped)
        if target is not None:
            return _with_userinfo(target, base_userinfo)
        target = urljoin(bare_base, stripped)
        parts = urlsplit(target)
    except (TypeError, ValueError, AttributeError):
        raise UnsafeURLError(f"{what}: {redact_url(str(url))} from {redact_url(base)} is "
                             "not a URL", url=redact_url(base), field=what) from None
    shown = redact_url(target)
    if parts.scheme.lower() not in ("http", "https"):
        raise UnsafeURLError(f"{what}: refused {shown} from {redact_url(base)}: only http and "
                             "https URLs are followed", url=redact_url(base), field=what)
    if split_userinfo(target)[1] is not None or "@" in parts.netloc:
        raise UnsafeURLError(f"{what}: refused {shown} from {redact_url(base)}: it carries "
                             "credentials", url=redact_url(base), field=what)
    # No userinfo in target (refused above): its origin is that of ``parts``.
    same = _origin_of(parts) == _base_view(bare_base)[1]
    if same_origin and not same:
        raise UnsafeURLError(f"{what}: refused {shown}: it is not on the origin of "
                             f"{redact_url(base)}", url=redact_url(base), field=what)
    return _with_userinfo(target, base_userinfo) if same else target


def _with_userinfo(target: str, userinfo: str | None) -> str:
    """``target`` with the user's own ``userinfo`` (for a URL on their base's origin)."""
    if userinfo is None:
        return target
    scheme, rest = target.split("://", 1)
    return f"{scheme}://{userinfo}@{rest}"


def safe_segments(path: str, *, what: str) -> str:
    """``path`` if every ``/``-separated segment, percent-decoded, stays in its directory.

    Refused (`UnsafePathError` naming ``what``): an empty, ``.`` or ``..`` segment, and a
    segment that decodes to one of those or holds ``/``, ``\\``, NUL or a control
    character (``%2e%2e``, ``%2F``...). Decoding repeats until nothing changes, so a double
    encoding cannot hide a ``..`` from a server that decodes twice.
    """
    if not isinstance(path, str) or not path:
        raise UnsafePathError(f"{what} must be a non-empty path, got {path!r}")
    for index, segment in enumerate(path.split("/")):
        decoded = segment
        for _ in range(4):
            again = unquote(decoded)
            if again == decoded:
                break
            decoded = again
        why = _unsafe(decoded, absolute=index == 0)
        if why is not None:
            if decoded != segment:
                why += f" once decoded ({decoded!r})"
            raise UnsafePathError(
                f"{what} {path!r} has an unsafe segment {segment!r}: {why}")
    return path


def _unsafe(segment: str, *, absolute: bool) -> str | None:
    """Why a decoded path segment is unsafe, or None."""
    if segment == "" and absolute:
        return "the path is absolute"
    if segment in ("", ".", ".."):
        return f"a {segment or 'empty'!r} segment"
    if "\\" in segment:
        return "it contains a backslash"
    if "/" in segment:
        return "it contains a '/'"
    if any(ord(c) < 32 or ord(c) == 127 for c in segment):
        return "it contains a control character"
    return None


def quote_path(path: str) -> str:
    """``path`` percent-encoded for a URL (``/`` kept), so a literal ``%`` stays literal."""
    return quote(path, safe="/:@!$&'()*+,;=~")
