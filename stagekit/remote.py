"""The class a plugin subclasses: `Remote`, and `HTTPRemote` for remotes read over HTTP.

A remote is configuration plus two questions: what are the roots, and what are the
children of a saved unit. It holds no engine state, so a plugin may give its
attributes any name (``edges``, ``nodes``, ``name``, ``store``...), and it must pickle.
Everything that belongs to one run reaches it as a `stagekit.RunContext`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

from stagekit.errors import ConfigurationError
from stagekit.options import OnError, check_max_depth, check_on_error
from stagekit.urls import encode_userinfo, redact_url

if TYPE_CHECKING:
    import pandas as pd

    from stagekit.context import RunContext
    from stagekit.models import Content, DeclarativeContent

__all__ = ["HTTPRemote", "Remote", "check_remote_url", "run_choices"]


class Remote:
    """Base class of every remote: implement `roots` and `discover`.

    ``max_depth`` and ``on_error`` are the remote's own defaults (class attributes, or
    set by the constructor); a run reads them when its caller gives none, and never
    writes them. Per-run state, if a remote needs any, is made in `open` and dropped in
    `close`.
    """

    max_depth: int | None = None
    on_error: OnError | None = None
    #: False for a remote whose answer needs every unit seen in one process (PyPI's
    #: version choice): a run on a cluster refuses it rather than split that state.
    distributable: ClassVar[bool] = True

    def __init__(self, *, max_depth: int | None = None, on_error: OnError | None = None) -> None:
        if max_depth is not None:
            self.max_depth = check_max_depth(max_depth)
        if on_error is not None:
            self.on_error = check_on_error(on_error)

    async def open(self, ctx: RunContext) -> None:
        """Called once before `roots` in each run (default: nothing)."""

    async def close(self) -> None:
        """Called once after the run's discovery ended, whatever the outcome."""

    async def roots(self, ctx: RunContext) -> AsyncIterator[DeclarativeContent]:
        """Yield the root units."""
        raise NotImplementedError(f"{type(self).__name__} must implement roots()")
        yield  # pragma: no cover

    async def discover(
        self, ctx: RunContext, unit: Content, dc: DeclarativeContent
    ) -> AsyncIterator[DeclarativeContent]:
        """Yield the children of ``unit``, which is saved (its artifacts are readable).

        Raising fails ``unit`` (after the children already yielded); under
        ``on_error="abort"`` it stops the run.
        """
        return
        yield  # pragma: no cover

    def has_children(self, dc: DeclarativeContent) -> bool:
        """Whether ``dc`` can have children; False spares it a future (flat remotes)."""
        return True

    def revisit(
        self, known: DeclarativeContent, found: DeclarativeContent
    ) -> dict[str, Any] | None:
        """Decide what to do when ``found`` declares a unit already declared as ``known``.

        The default, None, links the unit to its new parent and nothing more. A remote
        whose children depend on the path that reached a unit (Maven exclusions, Python
        extras) returns the ``extra_data`` to explore it with from now on, e.g. the union
        of both paths' extras: the unit is then explored again with it (once saved), and
        what that finds is added. Return something that only grows (None once nothing
        new), so that the answer does not depend on the order in which paths arrive.
        """
        return None

    def describe(self) -> str:
        """A short text naming the remote, for the catalog and displays."""
        return type(self).__name__

    def annotate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add remote-specific columns to a run's unit table (default: none)."""
        return frame


def run_choices(
    remote: Remote, on_error: OnError | None, max_depth: int | None
) -> tuple[OnError, int | None]:
    """A run's ``on_error`` and ``max_depth``: the caller's, else the remote's own, else
    ``"continue"`` and no limit; `ConfigurationError` if either is not valid."""
    chosen = on_error if on_error is not None else remote.on_error or "continue"
    depth = max_depth if max_depth is not None else remote.max_depth
    return check_on_error(chosen), check_max_depth(depth)


def check_remote_url(url: str, what: str = "url") -> str:
    """``url`` checked and normalised, as a remote should keep the URL its user gave.

    It must be an absolute http(s) or file URL (else a `ConfigurationError` naming it);
    its user and password come back percent-encoded, so a password holding ``/``, ``#``
    or ``?`` survives joining paths to the URL.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https", "file") or not rest:
        raise ConfigurationError(
            f"{what} {redact_url(url)!r} is not an http://, https:// or file:// URL"
        )
    return encode_userinfo(url)


class HTTPRemote(Remote):
    """A remote read over HTTP (or ``file://``) from ``url``, with the run's downloader.

    The URL is checked when the remote is made, so a typo fails before any run starts.
    It is kept under a private (name-mangled) attribute: a subclass names its own.
    """

    def __init__(
        self, url: str, *, max_depth: int | None = None, on_error: OnError | None = None
    ) -> None:
        super().__init__(max_depth=max_depth, on_error=on_error)
        self.__url = check_remote_url(url)

    def describe(self) -> str:
        """The kind of remote and its (redacted) URL."""
        return f"{type(self).__name__} {redact_url(self.__url)}"
