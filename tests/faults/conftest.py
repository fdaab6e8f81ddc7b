"""Fixtures of the fault suite: asyncio's own error log must stay empty in every test."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Iterator

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than 30 s")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def asyncio_errors() -> Iterator[list[logging.LogRecord]]:
    """Fail the test if asyncio (or aiohttp) logged an error while it ran.

    "Task was destroyed but it is pending", "Unclosed client session" and "Future
    exception was never retrieved" reach the loop's exception handler, which logs them
    at ERROR on the ``asyncio`` logger; a collection at the end flushes the ones that
    only appear when the object is freed.
    """
    handler = _Collect()
    loggers = [logging.getLogger(name) for name in ("asyncio", "aiohttp")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.records
        gc.collect()
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    messages = [record.getMessage() for record in handler.records]
    assert messages == [], f"asyncio logged errors: {messages}"


@pytest.fixture(autouse=True)
async def no_orphan_tasks() -> AsyncIterator[None]:
    """Fail the test if a task it started is still pending once it returned."""
    yield
    current = asyncio.current_task()
    orphans = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert orphans == [], f"tasks left pending: {orphans}"
