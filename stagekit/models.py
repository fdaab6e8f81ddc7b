"""The units that flow through a pipeline: content, its artifacts, and their declarations."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, TypeGuard
from urllib.parse import urlsplit

from stagekit.errors import UnsafePathError
from stagekit.registry import current_registry
from stagekit.urls import redact_url

if TYPE_CHECKING:
    from stagekit.registry import FutureRegistry

__all__ = [
    "Artifact",
    "Content",
    "DeclarativeArtifact",
    "DeclarativeContent",
    "content_identity",
    "content_key",
    "safe_relative_path",
    "unit_key",
]

_HEX = re.compile(r"^[0-9a-f]+$")
_HEX_DIGITS = "0123456789abcdef"
_DRIVE = re.compile(r"[A-Za-z]:")
_DIGEST_LENGTHS = {"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}
# The lengths of the algorithms this Python has, by the name a digest is kept under.
_KEPT_LENGTHS = {name: n for name, n in _DIGEST_LENGTHS.items()
                 if name in hashlib.algorithms_available}


def safe_relative_path(path: str, *, what: str = "relative_path") -> str:
    """Return ``path`` if it is a safe relative POSIX path, else raise `UnsafePathError`.

    Rejected: empty, absolute, ``..``/``.``/empty segments, NUL, backslash, a drive letter.
    """
    if not isinstance(path, str) or not path:
        raise UnsafePathError(f"{what} must be a non-empty string, got {path!r}")
    if "\x00" in path:
        raise UnsafePathError(f"{what} {path!r} contains a NUL byte")
    if "\\" in path:
        raise UnsafePathError(f"{what} {path!r} contains a backslash")
    if path.startswith("/") or _DRIVE.match(path):
        raise UnsafePathError(f"{what} {path!r} is absolute")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise UnsafePathError(f"{what} {path!r} has a {segment or 'empty'!r} segment")
    return path


def plain_relative_path(path: Any) -> TypeGuard[str]:
    """Whether ``path`` is a plain relative path `safe_relative_path` accepts, told
    without it (the usual path; anything else takes the full check)."""
    if type(path) is not str or not path or "\\" in path or "\x00" in path:
        return False
    wrapped = f"/{path}/"
    return (path[0] != "/" and path[1:2] != ":" and "//" not in wrapped
            and "/./" not in wrapped and "/../" not in wrapped)


def unit_key(kind: str, natural_key: Iterable[Any]) -> str:
    """The display and graph key of a unit: ``"kind:part1:part2"``."""
    if type(natural_key) is tuple:
        for part in natural_key:
            if type(part) is not str:
                break
        else:  # plain strings (the usual key): str() of each would change nothing
            return kind + ":" + ":".join(natural_key)
    return kind + ":" + ":".join(str(part) for part in natural_key)


class _Derived:
    """A read-only computed attribute that an instance attribute of the same name hides."""

    def __init__(self, compute: Any, doc: str) -> None:
        self._compute = compute
        self.__doc__ = doc

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return self._compute(instance)


class Content:
    """Base of content units.

    Subclass it as a dataclass, set the class attribute ``kind`` and implement
    ``natural_key()``: units with equal ``(kind, natural_key())`` are the same unit.
    """

    kind: ClassVar[str] = "content"

    def natural_key(self) -> tuple[Any, ...]:
        """What makes two units of this kind the same one."""
        raise NotImplementedError(f"{type(self).__name__} must implement natural_key()")

    # Non-data descriptors: a subclass may have fields of these names (an instance value
    # wins), and stagekit itself only ever calls `content_key` / `content_identity`.
    identity = _Derived(lambda self: content_identity(self),
                        "``(kind, natural_key())``: the deduplication key.")
    key = _Derived(lambda self: content_key(self),
                   '``"kind:natural key"``, as used in the graph and the DataFrame.')


def content_identity(content: Content) -> tuple[str, tuple[Any, ...]]:
    """``(kind, natural_key())`` of ``content``: units with equal identities are one unit."""
    return (content.kind, tuple(content.natural_key()))


def content_key(content: Content) -> str:
    """``"kind:natural key"`` of ``content``, as used in the graph and the DataFrame."""
    return unit_key(content.kind, content.natural_key())


@dataclass(slots=True)
class Artifact:
    """A verified file in the store, addressed by its sha256."""

    sha256: str
    size: int
    digests: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    def open(self) -> BinaryIO:
        """Open the stored file for binary reading."""
        if self.path is None:
            raise FileNotFoundError(f"artifact sha256:{self.sha256} is not stored")
        return open(self.path, "rb")

    def read_bytes(self) -> bytes:
        """The whole stored file (for small metadata files)."""
        with self.open() as f:
            return f.read()


def _check_url(url: str) -> str:
    if not isinstance(url, str):
        raise ValueError(f"url must be a string, got {url!r}")
    if url.startswith(("http://", "https://", "file://")):
        return url
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise ValueError(f"url {url!r} must be http://, https:// or file://")
    return url


def _check_digests(digests: Mapping[str, str] | None) -> dict[str, str]:
    checked: dict[str, str] = {}
    for algorithm, value in (digests or {}).items():
        expected = _KEPT_LENGTHS.get(algorithm)
        # A digest already spelled as it is kept (the usual one) needs no normalising.
        if (expected is not None and type(value) is str and len(value) == expected
                and not value.strip(_HEX_DIGITS)):
            checked[algorithm] = value
            continue
        name = algorithm.lower().replace("-", "")
        if name not in hashlib.algorithms_available:
            raise ValueError(f"unknown digest algorithm {algorithm!r}")
        hexvalue = str(value).strip().lower()
        expected_len = _DIGEST_LENGTHS.get(name)
        if not _HEX.match(hexvalue) or (expected_len and len(hexvalue) != expected_len):
            raise ValueError(f"digest {algorithm}={value!r} is not a valid hex digest")
        checked[name] = hexvalue
    return checked


class DeclarativeArtifact:
    """A file a unit needs: where to fetch it, where it goes, what it must hash to.

    ``url`` may be a list of mirrors, tried in turn. ``deferred=True`` marks a payload
    that a metadata-only run records but does not fetch. After the pipeline saved it,
    ``artifact`` is the stored `Artifact` (None while deferred or failed).
    """

    __slots__ = (
        "artifact",
        "deferred",
        "digests",
        "download",
        "error",
        "extra_data",
        "relative_path",
        "size",
        "status",
        "tries",
        "urls",
    )

    def __init__(
        self,
        url: str | list[str] | tuple[str, ...],
        relative_path: str,
        *,
        digests: Mapping[str, str] | None = None,
        size: int | None = None,
        deferred: bool = False,
        extra_data: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(url, str):
            self.urls: tuple[str, ...] = (_check_url(url),)
        else:
            urls = tuple(url)
            if not urls:
                raise ValueError(f"artifact {relative_path!r} needs at least one url")
            self.urls = tuple([_check_url(u) for u in urls])
        if plain_relative_path(relative_path):
            self.relative_path = relative_path
        else:
            try:
                self.relative_path = safe_relative_path(relative_path)
            except UnsafePathError as exc:
                # Name the remote-provided artifact too: the path alone rarely says where
                # it came from.
                raise UnsafePathError(
                    f"{exc} (artifact at {redact_url(self.urls[0])})") from None
        self.digests = _check_digests(digests) if digests else {}
        if size is not None and (not isinstance(size, int) or size < 0):
            raise ValueError(f"size of {relative_path!r} must be a non-negative int, got {size!r}")
        self.size = size
        self.deferred = deferred
        self.extra_data = {} if extra_data is None else dict(extra_data)
        self.artifact: Artifact | None = None
        self.download: Any = None  # a verified temporary file, until ArtifactSaver stores it
        self.status: str | None = None
        self.error: BaseException | None = None
        self.tries = 0

    @property
    def url(self) -> str:
        """The first (preferred) URL."""
        return self.urls[0]

    def __repr__(self) -> str:
        return f"DeclarativeArtifact({self.relative_path!r}, status={self.status!r})"


class DeclarativeContent:
    """A content unit on its way through the pipeline, with the artifacts it needs.

    The first stage may attach a future (`get_or_create_future`) to learn when the unit
    is saved; `resolve` sets it. Discovery sets ``parent``, ``depth`` and ``relation``.
    """

    __slots__ = (
        "__weakref__",
        "_future",
        "_registry",
        "_thaw_event",
        "content",
        "d_artifacts",
        "depth",
        "error",
        "extra_data",
        "identity",
        "key",
        "owner",
        "parent",
        "relation",
        "status",
    )

    def __init__(
        self,
        content: Content,
        d_artifacts: Iterable[DeclarativeArtifact] = (),
        *,
        extra_data: dict[str, Any] | None = None,
        relation: str | None = None,
    ) -> None:
        if not isinstance(content, Content):
            raise TypeError(f"content must be a stagekit.Content, got {type(content).__name__}")
        self.content = content
        natural = tuple(content.natural_key())
        kind = content.kind
        #: The unit's ``(kind, natural key)`` and ``"kind:natural key"`` (content is not to
        #: change once declared).
        self.identity = (kind, natural)
        self.key = unit_key(kind, natural)
        self.d_artifacts: list[DeclarativeArtifact] = list(d_artifacts)
        if len(self.d_artifacts) > 1:
            paths = [da.relative_path for da in self.d_artifacts]
            if len(set(paths)) != len(paths):
                raise ValueError(
                    f"unit {self.key} declares the same relative_path twice: {paths}")
        self.extra_data: dict[str, Any] = {} if extra_data is None else dict(extra_data)
        self.relation = relation
        self.parent: DeclarativeContent | None = None
        self.depth = 0
        self.status: str | None = None
        self.error: BaseException | None = None
        self.owner: str | None = None
        self._future: asyncio.Future[Content] | None = None
        self._registry: FutureRegistry | None = None
        self._thaw_event: asyncio.Event | None = None

    @property
    def does_batch(self) -> bool:
        """False while a future is attached: a batch holding this unit must not wait."""
        return self._future is None

    @property
    def future(self) -> asyncio.Future[Content] | None:
        """The attached future, if any."""
        return self._future

    @property
    def artifacts(self) -> dict[str, Artifact]:
        """Stored artifacts of this unit by relative path (after it was saved)."""
        return {
            da.relative_path: da.artifact for da in self.d_artifacts if da.artifact is not None
        }

    def get_or_create_future(self) -> asyncio.Future[Content]:
        """Return the future that resolves to the saved unit, creating it on first call.

        If the unit is waiting in a batch, that batch is released at once so that
        awaiting the future cannot deadlock.
        """
        if self._future is None:
            self._future = asyncio.get_running_loop().create_future()
            self._registry = current_registry()
            if self._registry is not None:
                self._registry.track(self)
            if self._thaw_event is not None:
                self._thaw_event.set()
        return self._future

    async def resolution(self) -> Content:
        """Wait until the unit is saved and return it (raises the unit's error if it failed)."""
        future = self.get_or_create_future()
        # Shielded: cancelling the waiter must not cancel the unit's own future.
        if self._registry is None:
            return await asyncio.shield(future)
        async with self._registry.waiting():
            return await asyncio.shield(future)

    def resolve(self) -> None:
        """Resolve the future with the saved unit; does nothing if already done."""
        if self._future is not None and not self._future.done():
            self._future.set_result(self.content)

    def fail(self, error: BaseException) -> None:
        """Give the future ``error`` (if it is still pending) and record it on the unit."""
        self.error = error
        self.status = "failed"
        if self._future is not None and not self._future.done():
            self._future.set_exception(error)
            self._future.exception()  # reported through events: no "never retrieved" log

    def __repr__(self) -> str:
        return f"DeclarativeContent({self.key!r}, depth={self.depth})"
