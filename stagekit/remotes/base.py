"""What the bundled remotes share: bounded concurrency and prefetched files.

- `each_completed`: run awaitables with a concurrency limit and yield results as they
  finish, owning every task (a consumer that stops early cancels the rest);
- `prefetched`: a `DeclarativeArtifact` whose verified download a remote made itself
  (to read a response header, or to pick among variants with different digests);
  `ArtifactDownloader` skips it and `ArtifactSaver` stores it like any download.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Iterable
from typing import Any, TypeVar

from stagekit.download.config import DownloadResult
from stagekit.models import DeclarativeArtifact

__all__ = ["each_completed", "prefetched"]


T = TypeVar("T")


async def each_completed(
    awaitables: Iterable[Awaitable[T]], limit: int
) -> AsyncGenerator[T, None]:
    """Yield the results of ``awaitables`` in completion order, at most ``limit`` at once.

    ``awaitables`` is consumed lazily (pass a generator to create coroutines on demand).
    An exception of one of them is raised here after the others are cancelled.
    """
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    source = iter(awaitables)
    pending: set[asyncio.Future[T]] = set()
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < limit:
                item = next(source, None)
                if item is None:
                    exhausted = True
                    break
                pending.add(asyncio.ensure_future(item))
            if not pending:
                return
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                yield task.result()
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


def prefetched(
    url: str | list[str],
    relative_path: str,
    result: DownloadResult,
    *,
    extra_data: dict[str, Any] | None = None,
) -> DeclarativeArtifact:
    """An artifact already downloaded and verified into ``result`` (a store temp file).

    The run's downloader writes into the store's temporary directory, so `ArtifactSaver`
    can move the file into the store; a remote run outside `stagekit.explore` must be
    given a downloader whose ``temp_dir`` is the store's.
    """
    da = DeclarativeArtifact(
        url,
        relative_path,
        digests={"sha256": result.digests["sha256"]},
        size=result.size,
        extra_data=extra_data,
    )
    da.download = result
    da.tries = result.tries
    return da
