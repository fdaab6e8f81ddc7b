"""Checksum sidecars (``.sha1``, ``.sha256``...) next to Maven files: fetch, parse, verify."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping

from stagekit.errors import DigestMismatchError, DownloadError, HTTPStatusError
from stagekit.remotes.maven.checksums import check_algorithms
from stagekit.remotes.maven.coords import sidecar_path

__all__ = ["Sidecars", "parse_sidecar", "verify_bytes"]

log = logging.getLogger(__name__)

_HEX_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}
_TOKEN = re.compile(r"[0-9a-fA-F]+")

GetBytes = Callable[[str], Awaitable[bytes]]


def parse_sidecar(body: bytes, algorithm: str) -> str | None:
    """The hex digest in a sidecar body, or None when there is none of the right length.

    Accepts the bare hex Maven writes as well as ``hex  filename`` and ``NAME (file) = hex``.
    """
    wanted = _HEX_LENGTHS[algorithm]
    text = body[:4096].decode("ascii", errors="replace")
    for token in _TOKEN.findall(text):
        if len(token) == wanted:
            return token.lower()
    return None


def verify_bytes(data: bytes, digests: Mapping[str, str], url: str, *,
                 source: str = "sidecar") -> None:
    """Raise `DigestMismatchError` naming ``url`` if ``data`` does not match ``digests``.

    ``source`` says where the digests came from (``"sidecar"`` or ``"header"``).
    """
    for algorithm, expected in digests.items():
        actual = hashlib.new(algorithm, data).hexdigest()
        if actual != expected:
            said = (f"its .{algorithm} sidecar" if source == "sidecar"
                    else f"its {algorithm} checksum header")
            raise DigestMismatchError(
                f"{algorithm} mismatch for {url}: {said} says {expected}, "
                f"the file hashes to {actual}",
                url=url, tries=1, algorithm=algorithm, expected=expected, actual=actual,
            )


class Sidecars:
    """Fetches the sidecars of a file concurrently, one request per algorithm asked for.

    A missing or unreadable sidecar is not an error: the file is then unverified. After
    ``give_up_after`` lookups of an algorithm with no hit at all, that algorithm is no
    longer asked for (a repository without sidecars should not pay a request per file).
    """

    def __init__(self, get_bytes: GetBytes, algorithms: Iterable[str] = ("sha1",),
                 *, give_up_after: int = 20) -> None:
        self.algorithms = check_algorithms(algorithms)
        self._get_bytes = get_bytes
        self.give_up_after = give_up_after
        self.hits = dict.fromkeys(self.algorithms, 0)
        self.misses = dict.fromkeys(self.algorithms, 0)
        self.requests = 0

    def active(self) -> list[str]:
        """The algorithms still worth a request."""
        return [a for a in self.algorithms
                if self.hits[a] or self.misses[a] < self.give_up_after]

    async def digests(self, url: str) -> dict[str, str]:
        """``{algorithm: hex}`` for every sidecar of ``url`` that exists and parses."""
        algorithms = self.active()
        if not algorithms:
            return {}
        if len(algorithms) == 1:  # the usual case: no gather, no task
            value = await self._one(url, algorithms[0])
            return {algorithms[0]: value} if value else {}
        found = await asyncio.gather(*(self._one(url, a) for a in algorithms))
        return {a: value for a, value in zip(algorithms, found, strict=True) if value}

    async def _one(self, url: str, algorithm: str) -> str | None:
        sidecar = sidecar_path(url, algorithm)
        self.requests += 1
        try:
            body = await self._get_bytes(sidecar)
        except HTTPStatusError as exc:
            if exc.status not in (404, 410):
                log.warning("checksum %s unavailable, %s stays unverified: %s", sidecar, url, exc)
            self.misses[algorithm] += 1
            return None
        except DownloadError as exc:
            log.warning("checksum %s unavailable, %s stays unverified: %s", sidecar, url, exc)
            self.misses[algorithm] += 1
            return None
        value = parse_sidecar(body, algorithm)
        if value is None:
            log.warning("checksum %s holds no %s digest; %s stays unverified",
                        sidecar, algorithm, url)
            self.misses[algorithm] += 1
            return None
        self.hits[algorithm] += 1
        return value
