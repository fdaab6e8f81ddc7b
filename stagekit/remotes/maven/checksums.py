"""Where a Maven file's expected digest comes from: response headers, sidecars, or nowhere.

Maven itself fetches a ``.sha1`` sidecar next to every file (its checksum policy is fail,
warn or ignore). Repository managers also send the digest in the response that carries
the file: ``X-Checksum-Sha1`` / ``X-Checksum-Md5`` / ``X-Checksum-Sha256`` headers, or an
``ETag`` of the form ``"{SHA1{hex}}"``. Reading it there saves a request per file.

`MavenRemote(checksums=...)` picks one of `CHECKSUM_MODES`:

- ``"header-or-sidecar"`` (default): a checksum header of the response is the expected
  digest; a response without one falls back to the sidecar;
- ``"sidecar"``: always the sidecar (headers are not read), as Maven does;
- ``"ignore"``: nothing is checked and no sidecar is asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from stagekit.errors import ConfigurationError
from stagekit.remotes.maven.coords import SIDECAR_ALGORITHMS

__all__ = ["CHECKSUM_MODES", "HeaderHabit", "check_algorithms", "check_mode", "header_digests"]

CHECKSUM_MODES = ("header-or-sidecar", "sidecar", "ignore")

_HEX_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}
_HEADERS = {a: f"X-Checksum-{a.capitalize()}" for a in SIDECAR_ALGORITHMS}
# Nexus writes the SHA-1 as a weak-looking ETag: "{SHA1{<hex>}}" (with or without W/).
_ETAG_SHA1 = re.compile(r'^(?:W/)?"?\{SHA1\{([0-9a-fA-F]{40})\}\}"?$')
_HEX = re.compile(r"[0-9a-fA-F]+")


def check_mode(mode: object) -> str:
    """``mode`` if it is one of `CHECKSUM_MODES`; else a `ConfigurationError` naming it."""
    if not isinstance(mode, str) or mode not in CHECKSUM_MODES:
        raise ConfigurationError(
            f"MavenRemote checksums={mode!r} is not a checksum mode; choose from "
            f"{', '.join(repr(m) for m in CHECKSUM_MODES)}")
    return mode


def check_algorithms(algorithms: Iterable[str]) -> tuple[str, ...]:
    """The algorithms as a tuple; a `ConfigurationError` naming one without a sidecar."""
    chosen = tuple(algorithms)
    for algorithm in chosen:
        if algorithm not in SIDECAR_ALGORITHMS:
            raise ConfigurationError(
                f"no Maven sidecar or checksum header for algorithm {algorithm!r}; "
                f"choose from {', '.join(SIDECAR_ALGORITHMS)}")
    return chosen


def header_digests(headers: Mapping[str, str], algorithms: Iterable[str]) -> dict[str, str]:
    """``{algorithm: hex}`` for each of ``algorithms`` a checksum header of ``headers`` gives.

    ``headers`` must look names up case-insensitively (aiohttp's do). A value that is not
    hex of the algorithm's length is not a digest and is left out (the caller then asks
    the sidecar): a header can only add a check, never remove one by being garbled.
    """
    algorithms = tuple(algorithms)
    found: dict[str, str] = {}
    for algorithm in algorithms:
        value = headers.get(_HEADERS[algorithm])
        if value is not None:
            value = value.strip()
            if len(value) == _HEX_LENGTHS[algorithm] and _HEX.fullmatch(value):
                found[algorithm] = value.lower()
    if "sha1" not in found and "sha1" in algorithms:
        match = _ETAG_SHA1.match(headers.get("ETag", "").strip())
        if match:
            found["sha1"] = match.group(1).lower()
    return found


class HeaderHabit:
    """Whether the repository sends checksum headers, as far as its answers tell.

    Under ``header-or-sidecar`` the sidecar of a file is asked for together with the file
    only once answers have come and none carried a header: a repository that sends
    headers costs one request per file (a file whose answer lacks one pays a second
    round trip for its sidecar), one that does not still costs one round trip (file and
    sidecar together). Nothing is known before the first answer, so the first files
    wait for it rather than guess.
    """

    __slots__ = ("answers", "with_header")

    def __init__(self) -> None:
        self.answers = 0
        self.with_header = 0

    def ask_sidecar_ahead(self) -> bool:
        """Whether to request the sidecar together with the file."""
        return self.answers > 0 and self.with_header == 0

    def saw(self, had_header: bool) -> None:
        """Record whether an answer carried a checksum header."""
        self.answers += 1
        self.with_header += had_header
