"""Which futures of the running pipeline are still pending, and who is waiting on them.

It sits below both `stagekit.models` (a unit registers its future here when one is
attached) and `stagekit.pipeline` (which fails what nobody can resolve any more), so
neither has to import the other.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from stagekit.models import DeclarativeContent

__all__ = ["FutureRegistry", "Waiter", "current_registry", "current_waiter"]


class Waiter(Protocol):
    """A stage that may wait on futures (it counts as idle while it does)."""

    _waiting: int


_registry_var: ContextVar[FutureRegistry | None] = ContextVar("stagekit_registry", default=None)
_waiter_var: ContextVar[Waiter | None] = ContextVar("stagekit_stage", default=None)


def current_registry() -> FutureRegistry | None:
    """The registry of the pipeline running in this context, if any."""
    return _registry_var.get()


def current_waiter() -> Waiter | None:
    """The stage running in this context, if any."""
    return _waiter_var.get()


class FutureRegistry:
    """Every unit of one pipeline whose future is still pending.

    ``on_wait`` is called each time a stage starts waiting on a future (the pipeline
    checks then whether anything can still resolve the pending ones).
    """

    __slots__ = ("_on_wait", "pending")

    def __init__(self, on_wait: Callable[[], None] | None = None) -> None:
        self._on_wait = on_wait
        self.pending: set[DeclarativeContent] = set()

    def track(self, dc: DeclarativeContent) -> None:
        """Remember ``dc`` until its future is done."""
        assert dc.future is not None
        self.pending.add(dc)
        dc.future.add_done_callback(lambda _f: self.pending.discard(dc))

    @contextlib.asynccontextmanager
    async def waiting(self) -> AsyncIterator[None]:
        """Mark the current stage as waiting for a future (it counts as idle meanwhile)."""
        stage = _waiter_var.get()
        if stage is None or self._on_wait is None:
            yield
            return
        stage._waiting += 1
        self._on_wait()
        try:
            yield
        finally:
            stage._waiting -= 1

    def fail_all(self, make_error: Callable[[DeclarativeContent], BaseException]) -> int:
        """Give every pending future ``make_error(dc)``; returns how many were failed."""
        failed = 0
        for dc in list(self.pending):
            future = dc.future
            if future is not None and not future.done():
                dc.fail(make_error(dc))
                failed += 1
        self.pending.clear()
        return failed
