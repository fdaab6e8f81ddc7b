"""What a run gives a remote: `RunContext`.

A `stagekit.Remote` holds only its configuration; everything that belongs to one run
(the downloader, the store, the event bus, the run's choices) reaches it through the
context passed to each hook, and so does the one way to report a unit that failed
before it could be put.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from stagekit.options import OnError, Policy

if TYPE_CHECKING:
    from stagekit.download import Downloader
    from stagekit.events import EventBus
    from stagekit.models import Content, DeclarativeArtifact, DeclarativeContent
    from stagekit.storage import Store
    from stagekit.storage._known import KnownChildren

__all__ = ["FailureSink", "KnownSink", "LateSink", "LeavesSink", "RunContext"]

#: Records a unit that failed before it was put: (error, unit or key and kind, parent,
#: relation, artifacts). Supplied by the discovery engine.
FailureSink = Callable[
    [Exception, "Content | None", "tuple[str, str] | None", "DeclarativeContent | None",
     "str | None", "Sequence[DeclarativeArtifact]"],
    None,
]

#: Records children an earlier run saved below a parent (`stagekit.known.record_known`).
KnownSink = Callable[["DeclarativeContent", "KnownChildren"], Awaitable[bool]]
#: Records new leaves below a parent in bulk; returns those it did not record
#: (`stagekit.leaves.LeafRecorder`).
LeavesSink = Callable[["DeclarativeContent", "Sequence[DeclarativeContent]"],
                      Awaitable["list[DeclarativeContent]"]]
#: Puts a unit found outside `roots`/`discover` (parent or None for a root). Supplied by
#: the discovery engine.
LateSink = Callable[["DeclarativeContent", "DeclarativeContent | None"], None]


@dataclass(frozen=True, slots=True)
class RunContext:
    """The run as a remote sees it; the same object for every hook of one run.

    ``store`` is None only in a pipeline built without one (tests of a remote alone).
    """

    downloader: Downloader
    store: Store | None
    events: EventBus
    on_error: OnError
    max_depth: int | None
    policy: Policy
    _record_failure: FailureSink = field(repr=False)
    _record_known: KnownSink | None = field(default=None, repr=False)
    _put_late: LateSink | None = field(default=None, repr=False)
    _record_leaves: LeavesSink | None = field(default=None, repr=False)

    async def get_bytes(self, url: str, headers: Mapping[str, str] | None = None) -> bytes:
        """The body of a small metadata file at ``url``, retried like any download."""
        page = await self.downloader.get_page(url, headers=dict(headers) if headers else None)
        return page.body

    def fail(
        self,
        error: Exception,
        *,
        unit: Content | None = None,
        key: str | None = None,
        kind: str | None = None,
        parent: DeclarativeContent | None = None,
        relation: str | None = None,
        artifacts: Sequence[DeclarativeArtifact] = (),
    ) -> None:
        """Report a unit that failed before it could be put, honouring ``on_error``.

        Name the unit by ``unit`` (its content) or by ``key`` and ``kind`` (when no
        content could be built, e.g. a bad manifest line). With ``parent`` it is linked
        as that unit's child (by ``relation``) at the next depth; its ``artifacts`` are
        reported failed. Under ``on_error="abort"`` this raises ``error``.
        """
        if self.on_error == "abort":
            raise error
        if unit is None and (key is None or kind is None):
            raise TypeError("fail() needs unit=, or key= and kind=")
        named = None if unit is not None else (key or "", kind or "")
        self._record_failure(error, unit, named, parent, relation, artifacts)

    async def record_known(self, parent: DeclarativeContent, known: KnownChildren) -> bool:
        """Record ``known`` (leaves an earlier run saved below ``parent``, from
        `stagekit.storage.Catalog.known_units`) as this run's children of ``parent``,
        without sending them through the stages (`stagekit.known`).

        False, with nothing recorded, when this run cannot (no catalog run, a child would
        need a download now, a pipeline without the engine's support): then yield them.
        """
        if self._record_known is None:
            return False
        return await self._record_known(parent, known)

    async def record_leaves(self, parent: DeclarativeContent,
                            leaves: Sequence[DeclarativeContent]) -> list[DeclarativeContent]:
        """Record ``leaves`` (new children of ``parent``, of one kind and relation) in
        bulk where the stages would only defer their files and save them
        (`stagekit.leaves`); returns the others, in order, which the remote yields.

        Everything is returned under a policy other than metadata-only, or in a pipeline
        without the engine's support. The recorded units are counted, linked and saved as
        if yielded; the run's records keep them as blocks instead of one record each.
        """
        if self._record_leaves is None:
            return list(leaves)
        return await self._record_leaves(parent, leaves)

    def declare(self, dc: DeclarativeContent, *, parent: DeclarativeContent | None = None) -> None:
        """Put ``dc`` as a child of ``parent`` (a unit already put), or as a root.

        For a remote whose answer for an explored unit changes later (a PyPI requirement
        re-pointed at another version once a later requirement narrowed its project): the
        unit is linked, explored and counted as if ``parent``'s `discover` had yielded it.
        """
        if self._put_late is None:
            raise RuntimeError("this run's engine cannot take units outside discover()")
        self._put_late(dc, parent)
