"""Deprecated: `Discovery`, the round-1 base class of remotes. Subclass `stagekit.Remote`.

It stays one release so that code written for it keeps running: its hooks take no
context (``roots(self)``, ``discover(self, unit, dc)``), and the run's downloader,
store and failure reporting are reached as ``self.downloader``, ``self.store``,
``self.report_failure`` and ``self.fail_child``. It warns once per process.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from typing import Any

from stagekit.context import RunContext
from stagekit.models import Content, DeclarativeArtifact, DeclarativeContent
from stagekit.options import OnError
from stagekit.remote import Remote

__all__ = ["Discovery"]

_warned = False


def _warn_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(
            "stagekit.discovery.Discovery is deprecated: subclass stagekit.Remote, whose "
            "roots(ctx) and discover(ctx, unit, dc) take the run's RunContext",
            DeprecationWarning, stacklevel=3,
        )


class Discovery(Remote):
    """Deprecated adapter: a `Remote` whose hooks take no context (see the module)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A subclass's old-style hooks move aside; the context-taking ones call them.
        super().__init_subclass__(**kwargs)
        for hook in ("roots", "discover"):
            if hook in cls.__dict__:
                setattr(cls, f"_legacy_{hook}", cls.__dict__[hook])
                delattr(cls, hook)

    def __init__(self, *, max_depth: int | None = None, on_error: OnError | None = None) -> None:
        _warn_once()
        super().__init__(max_depth=max_depth, on_error=on_error)
        self.__ctx: RunContext | None = None

    @property
    def _context(self) -> RunContext:
        if self.__ctx is None:
            raise RuntimeError(f"{type(self).__name__} is not in a run")
        return self.__ctx

    @property
    def downloader(self) -> Any:
        """The run's downloader (only while a run is going)."""
        return self._context.downloader

    @property
    def store(self) -> Any:
        """The run's store (only while a run is going)."""
        return self._context.store

    async def open(self, ctx: RunContext) -> None:
        """Remember the run's context for the old-style hooks."""
        self.__ctx = ctx

    async def close(self) -> None:
        """Forget the run's context."""
        self.__ctx = None

    def report_failure(self, key: str, kind: str, error: Exception) -> None:
        """Report a unit that failed before it could be put (now `RunContext.fail`)."""
        self._context.fail(error, key=key, kind=kind)

    def fail_child(
        self,
        parent_dc: DeclarativeContent,
        child: Content,
        relation: str | None,
        error: Exception,
        artifacts: tuple[DeclarativeArtifact, ...] = (),
    ) -> None:
        """Record ``child`` of ``parent_dc`` as failed (now `RunContext.fail`)."""
        self._context.fail(error, unit=child, parent=parent_dc, relation=relation,
                           artifacts=artifacts)

    def roots(self, ctx: RunContext) -> AsyncIterator[DeclarativeContent]:
        """Calls the subclass's ``roots()``, which takes no context."""
        return self._legacy_roots()

    def discover(
        self, ctx: RunContext, unit: Content, dc: DeclarativeContent
    ) -> AsyncIterator[DeclarativeContent]:
        """Calls the subclass's ``discover(unit, dc)``, which takes no context."""
        return self._legacy_discover(unit, dc)

    async def _legacy_roots(self) -> AsyncIterator[DeclarativeContent]:
        raise NotImplementedError(f"{type(self).__name__} must implement roots()")
        yield  # pragma: no cover

    async def _legacy_discover(
        self, unit: Content, dc: DeclarativeContent
    ) -> AsyncIterator[DeclarativeContent]:
        return
        yield  # pragma: no cover
