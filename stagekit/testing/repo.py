"""What a generated fixture repository is: files to serve, dynamic routes, and the answer.

Every generator in `stagekit.testing` returns a `Repo`. The server serves ``files`` as
static resources (GET, HEAD, Range) and lets the repo add dynamic routes; ``expected``
says what an explorer of the repo must find, so tests compare against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["Expected", "ExpectedArtifact", "ExpectedUnit", "Repo", "StaticFile"]


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One served file: its bytes and Content-Type.

    ``variants`` are other representations of the same resource (other Content-Types);
    the server picks the one the request's ``Accept`` header prefers (this one on a tie
    or without ``Accept``), and answers 406 when ``Accept`` allows none of them.
    ``headers`` are sent with it as they are (e.g. the ``X-Checksum-Sha1`` a Maven
    repository manager adds), after the server's own.
    """

    body: bytes
    content_type: str = "application/octet-stream"
    variants: tuple[StaticFile, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ExpectedArtifact:
    """An artifact an explorer must declare for a unit."""

    relative_path: str
    sha256: str
    size: int
    url_path: str
    deferred: bool = False


@dataclass(slots=True)
class ExpectedUnit:
    """A unit an explorer must find: key ``"kind:natural key"``, kind and shortest depth."""

    key: str
    kind: str
    depth: int
    artifacts: list[ExpectedArtifact] = field(default_factory=list)


@dataclass(slots=True)
class Expected:
    """The answer for a generated repo: units by key and ``(parent, child, relation)`` edges."""

    units: dict[str, ExpectedUnit] = field(default_factory=dict)
    edges: set[tuple[str, str, str | None]] = field(default_factory=set)

    def add_unit(self, unit: ExpectedUnit) -> None:
        """Add a unit, keeping the shorter depth when it is already known."""
        known = self.units.get(unit.key)
        if known is None or unit.depth < known.depth:
            self.units[unit.key] = unit

    def depths(self) -> dict[str, int]:
        """Shortest depth of each unit."""
        return {key: unit.depth for key, unit in self.units.items()}


class Repo:
    """A generated repository: static ``files`` by URL path (no leading slash) and ``expected``.

    Formats with dynamic endpoints (OCI) override `add_routes`.
    """

    def __init__(self, files: dict[str, StaticFile] | None = None,
                 expected: Expected | None = None) -> None:
        self.files: dict[str, StaticFile] = dict(files or {})
        self.expected = expected if expected is not None else Expected()

    def add_routes(self, app: web.Application) -> None:
        """Add dynamic routes to ``app``; called before the static catch-all route."""

    def entry_path(self) -> str:
        """The URL path an explorer starts from (the manifest, the Release...)."""
        return ""
