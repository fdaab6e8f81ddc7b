import asyncio

import pytest


@pytest.fixture
def no_leftover_tasks():
    """Yields a checker: after a pipeline, only the test's own task may be running."""

    def check() -> None:
        current = asyncio.current_task()
        others = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        assert others == [], f"tasks left running: {others}"

    return check


pytest_plugins = ["tests.backends"]
