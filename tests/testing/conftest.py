"""Fixtures for the fixture server's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from stagekit.testing import Faults, FileRepo, Server, make_file_repo, serve


@pytest.fixture
def file_repo() -> FileRepo:
    """A small file repo: 6 files of 1-40 KiB."""
    return make_file_repo(6, size=(1024, 40 * 1024), seed=7)


@pytest.fixture
async def server(file_repo: FileRepo) -> AsyncIterator[Server]:
    """The file repo served with an empty, seeded set of faults."""
    async with serve(file_repo, faults=Faults(seed=3)) as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session closed after the test."""
    async with aiohttp.ClientSession() as client:
        yield client
