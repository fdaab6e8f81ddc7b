"""A LocalCluster of 2 worker processes, for the cluster tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.backends import _require

try:
    import distributed
except ImportError:  # pragma: no cover - skips, except under CI=true (see tests.backends)
    distributed = None  # type: ignore[assignment]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than 30 s")


@pytest.fixture(autouse=True)
def _needs_distributed() -> None:
    _require("distributed (pip install 'stagekit[dask]')", distributed is not None)


@pytest.fixture
async def client() -> AsyncIterator[Any]:
    async with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, asynchronous=True,
        dashboard_address=None, host="127.0.0.1",
    ) as cluster, distributed.Client(cluster, asynchronous=True) as client:
        yield client
