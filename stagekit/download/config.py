"""What a `Downloader` is configured with and what it hands back."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

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
    """Limits, timeouts and retry budget of a `Downloader` (timeouts in seconds)."""

    per_host: int = 10
    total: int = 100
    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # longest time without a byte, before headers or in the body
    tries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    digest_retries: int = 1
    chunk_size: int = 256 * 1024
    io_threads: int = 4
    get_bytes_max: int = 16 * 1024 * 1024
    headers: Mapping[str, str] = field(default_factory=default_headers)


@dataclass(slots=True)
class DownloadResult:
    """A verified download waiting in a temporary file; the caller moves or removes it."""

    temp_path: Path
    size: int
    digests: dict[str, str]  # sha256 always, plus every algorithm that was expected
    url: str  # the URL (mirror) that worked, redacted
    tries: int  # attempts over all mirrors
    status: int | None  # None for file:// URLs
    headers: dict[str, str]
