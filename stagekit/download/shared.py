"""One `Downloader` shared by the stages of one pipeline.

The discovery engine (for a remote's metadata) and `ArtifactDownloader` (for artifacts)
use the same session, limits and authentication, and write into the same temporary
folder inside the store, so a file a remote fetched itself can be stored like any
download. A downloader given by the caller (a `Run` opens its own) is used as is;
otherwise the first stage to use it opens one and the last one closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from stagekit.download.config import DownloadConfig
from stagekit.download.session import Downloader

__all__ = ["SharedDownloader"]


class SharedDownloader:
    """A `Downloader` opened on first use and closed after its last user is done.

    ``tmp_root`` is where its temporary folder is made (the store's temporary
    directory); `cleanup` removes that folder once the pipeline has ended.
    """

    def __init__(
        self,
        config: DownloadConfig | None = None,
        *,
        tmp_root: Path,
        downloader: Downloader | None = None,
    ) -> None:
        self.config = config
        self._tmp_root = tmp_root
        self._given = downloader
        self._open: Downloader | None = None
        self._temp_dir: Path | None = None
        self._users = 0
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[Downloader]:
        """The downloader, open for the duration of the ``async with`` block."""
        if self._given is not None:
            yield self._given
            return
        async with self._lock:
            if self._open is None:
                if self._temp_dir is None:
                    self._temp_dir = Path(tempfile.mkdtemp(prefix="stages-", dir=self._tmp_root))
                downloader = Downloader(self.config, temp_dir=self._temp_dir)
                await downloader.__aenter__()
                self._open = downloader
            self._users += 1
            opened = self._open
        try:
            yield opened
        finally:
            self._users -= 1
            if self._users == 0 and self._open is opened:
                self._open = None
                await opened.__aexit__(None, None, None)

    def cleanup(self) -> None:
        """Remove the temporary folder (what no stage stored); safe to call twice."""
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
