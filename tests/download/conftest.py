"""Fixtures: fault servers on 127.0.0.1 and a Downloader with a recording sleep."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from download_faults import FaultServer, serve

from stagekit.download import DownloadConfig, Downloader, RetryPolicy


@pytest.fixture
async def server() -> AsyncIterator[FaultServer]:
    async with serve(FaultServer()) as s:
        yield s


@pytest.fixture
async def other_server() -> AsyncIterator[FaultServer]:
    async with serve(FaultServer()) as s:
        yield s


@pytest.fixture
def delays() -> list[float]:
    """Backoff delays the Downloader asked for (nothing actually sleeps)."""
    return []


@pytest.fixture
def temp_dir(tmp_path: Path) -> Path:
    path = tmp_path / "tmp"
    path.mkdir()
    return path


@pytest.fixture
def downloader(temp_dir: Path, delays: list[float]) -> Callable[..., Downloader]:
    """Build a Downloader over ``temp_dir`` with a recording sleep; kwargs go to the config."""

    async def record(seconds: float) -> None:
        delays.append(seconds)

    def make(**config: object) -> Downloader:
        cfg = DownloadConfig(**config)  # type: ignore[arg-type]
        policy = RetryPolicy(cfg.tries, cfg.backoff_base, cfg.backoff_max, sleep=record)
        return Downloader(cfg, temp_dir=temp_dir, retry=policy)

    return make
