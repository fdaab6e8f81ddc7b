"""Every error stagekit raises, under one root.

StagekitError
├── ConfigurationError       an option or argument the user gave is not valid (names it)
├── UnsafePathError          a path that could escape the store (``..``, absolute, NUL...)
├── PipelineError            a problem of the pipeline itself
│   └── UnitNotResolvedError a unit left the pipeline without its future being resolved
├── UnitFailedError          a unit could not be fetched or saved (names the unit, URL, cause)
├── DownloadError            an artifact could not be fetched (names the URL, without credentials)
│   ├── DigestMismatchError  the bytes do not match the declared digest or size
│   ├── HTTPStatusError      an error status, not retried or out of tries
│   └── BodyTooLargeError    a body went past its cap (also a LimitExceededError)
├── MetadataError            remote metadata is malformed (names the URL, field or line)
│   ├── LimitExceededError   a remote went past a cap of `stagekit.limits.Limits`
│   ├── SignatureError       signed metadata whose signature is missing, bad or untrusted
│   └── UnsafeURLError       a remote handed over a URL stagekit will not follow
└── StoreError               the store or its catalog is not usable
"""

from __future__ import annotations

__all__ = [
    "BodyTooLargeError",
    "ConfigurationError",
    "DigestMismatchError",
    "DownloadError",
    "HTTPStatusError",
    "LimitExceededError",
    "MetadataError",
    "PipelineError",
    "SignatureError",
    "StagekitError",
    "StoreError",
    "UnitFailedError",
    "UnitNotResolvedError",
    "UnsafePathError",
    "UnsafeURLError",
]


class StagekitError(Exception):
    """Root of every error stagekit raises on purpose."""


class ConfigurationError(StagekitError, ValueError):
    """An option or argument given by the user is not valid; the message names it.

    Raised before a run writes anything, so nothing is recorded for it.
    """


class UnsafePathError(StagekitError, ValueError):
    """A relative path given by a remote or a plugin is not a safe relative POSIX path."""


class PipelineError(StagekitError):
    """The pipeline could not carry a unit to its end."""


class UnitNotResolvedError(PipelineError):
    """A unit reached the end of the stream (or was dropped) without being resolved."""


class UnitFailedError(StagekitError):
    """A unit failed: one of its artifacts or its metadata could not be handled.

    ``unit_key`` names the unit, ``url`` the resource that failed (no credentials),
    ``__cause__`` holds the underlying error.
    """

    def __init__(self, message: str, *, unit_key: str | None = None, url: str | None = None):
        super().__init__(message)
        self.unit_key = unit_key
        self.url = url


class DownloadError(StagekitError):
    """An artifact could not be downloaded; ``url`` never contains credentials."""

    def __init__(self, message: str, *, url: str | None = None, tries: int = 0):
        super().__init__(message)
        self.url = url
        self.tries = tries


class DigestMismatchError(DownloadError):
    """Downloaded bytes do not match an expected digest or size."""

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        tries: int = 0,
        algorithm: str = "",
        expected: str = "",
        actual: str = "",
    ):
        super().__init__(message, url=url, tries=tries)
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual


class HTTPStatusError(DownloadError):
    """The server answered with an error status (after retries where they apply)."""

    def __init__(self, message: str, *, url: str | None = None, tries: int = 0, status: int = 0):
        super().__init__(message, url=url, tries=tries)
        self.status = status


class MetadataError(StagekitError):
    """Remote metadata is malformed; the message names the URL and the field or line."""

    def __init__(self, message: str, *, url: str | None = None, field: str | None = None):
        super().__init__(message)
        self.url = url
        self.field = field


class LimitExceededError(MetadataError):
    """A remote went past a cap of `stagekit.limits.Limits`.

    ``limit`` is the setting's name (``"metadata_bytes"``), ``value`` its value; the
    message names the URL, the limit and how to change it.
    """

    def __init__(self, message: str, *, url: str | None = None, limit: str = "",
                 value: int | float | None = None, field: str | None = None):
        super().__init__(message, url=url, field=field)
        self.limit = limit
        self.value = value


class BodyTooLargeError(DownloadError, LimitExceededError):
    """A response body (or a file) was larger than its cap; not retried."""

    def __init__(self, message: str, *, url: str | None = None, tries: int = 0,
                 limit: str = "", value: int | float | None = None):
        StagekitError.__init__(self, message)
        self.url = url
        self.tries = tries
        self.field = None
        self.limit = limit
        self.value = value


class UnsafeURLError(MetadataError):
    """A URL a remote handed over (Link, redirect, realm, mirror...) that is not followed:
    not http(s), carrying credentials, or off the remote's origin where it must stay on it."""


class SignatureError(MetadataError):
    """Signed metadata (a Debian Release) is unsigned, badly signed, or signed by a key not
    in the user's keyring; nothing it lists is fetched. The message names the URL and why."""


class StoreError(StagekitError):
    """The artifact store or its catalog cannot be used."""
