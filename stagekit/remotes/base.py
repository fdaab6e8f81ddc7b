"""What the bundled remotes share: prefetched files (bounded concurrency is `completion`).

- `prefetched`: a `DeclarativeArtifact` whose verified download a remote made itself
  (to read a response header, or to pick among variants with different digests);
  `ArtifactDownloader` skips it and `ArtifactSaver` stores it like any download.
"""

from __future__ import annotations

from typing import Any

from stagekit.download.config import DownloadResult
from stagekit.models import DeclarativeArtifact

__all__ = ["prefetched"]


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
