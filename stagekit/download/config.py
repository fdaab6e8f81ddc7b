"""What a `Downloader` is configured with and what it hands back."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stagekit.limits import DEFAULT_LIMITS, Limits

__all__ = ["INTERESTING_HEADERS", "DownloadConfig", "DownloadResult", "default_headers"]

# Response headers worth keeping with a result (the rest is noise for the catalog).
INTERESTING_HEADERS = (
    "Content-Type",
    "Content-Length",
    "Content-Encoding",
    "ETag",
    "Last-Modified",
    "Docker-Content-Digest",
)


def _version() -> str:
    try:
        return importlib.metadata.version("stagekit")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def default_headers() -> dict[str, str]:
    """Headers sent with every request: who we are, and raw bytes please (we hash them)."""
    return {"User-Agent": f"stagekit/{_version()}", "Accept-Encoding": "identity"}


@dataclass(frozen=True)
class DownloadConfig:
    """Limits, timeouts and retry budget of a `Downloader` (timeouts in seconds).

    ``request_timeout`` is the longest one try at one URL may take, headers and whole body
    (a server that trickles a byte now and then is cut off there, not retried);
    ``metadata_timeout`` is the same for metadata read into memory (`Downloader.get_bytes`,
    token answers). None means no deadline. ``limits`` caps sizes and counts (see
    `stagekit.limits.Limits`).
    """

    per_host: int = 10
    total: int = 100
    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # longest time without a byte, before headers or in the body
    request_timeout: float | None = 3600.0
    metadata_timeout: float | None = 120.0
    tries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    digest_retries: int = 1
    chunk_size: int = 256 * 1024
    io_threads: int = 4
    limits: Limits = DEFAULT_LIMITS
    headers: Mapping[str, str] = field(default_factory=default_headers)


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


@dataclass(slots=True)
class DownloadResult:
    """A verified download waiting in a temporary file; the caller moves or removes it.

    ``data`` is set when the verified body is held in memory instead (a small file a
    remote read, such as a POM): no file exists yet, and `ensure_file` writes it to
    ``temp_path`` (a new name in the store's temporary directory) where the store's
    worker thread commits it, so the event loop makes no file per download.
    """

    temp_path: Path
    size: int
    digests: dict[str, str]  # sha256 always, plus every algorithm that was expected
    url: str  # the URL (mirror) that worked, redacted
    tries: int  # attempts over all mirrors
    status: int | None  # None for file:// URLs
    headers: dict[str, str]
    data: bytes | None = None

    def ensure_file(self) -> Path:
        """``temp_path``, written from ``data`` first if the body is in memory (blocking:
        call it from a worker thread). ``O_EXCL``: an existing file is never reused."""
        data = self.data
        if data is None:
            return self.temp_path
        fd = os.open(self.temp_path, _NEW_FILE, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(self.temp_path)
            raise
        os.close(fd)
        self.data = None
        return self.temp_path
