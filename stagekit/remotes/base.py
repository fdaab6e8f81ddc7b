"""What every bundled remote shares: an HTTP client for its metadata."""

from __future__ import annotations

import contextlib
import tempfile

from stagekit.discovery import Discovery
from stagekit.download import Downloader

__all__ = ["HTTPDiscovery"]


class HTTPDiscovery(Discovery):
    """A `Discovery` that reads metadata over HTTP with the run's `Downloader`.

    Run through `stagekit.explore` it shares the run's session; run in a bare pipeline it
    opens one of its own for the duration of the stage.
    """

    async def run(self) -> None:
        """Open a downloader if the run gave none, then discover."""
        async with contextlib.AsyncExitStack() as stack:
            if self.downloader is None:
                self.downloader = await stack.enter_async_context(
                    Downloader(temp_dir=tempfile.gettempdir())
                )
                stack.callback(setattr, self, "downloader", None)
            await super().run()

    async def get_bytes(self, url: str, headers: dict[str, str] | None = None) -> bytes:
        """The body of a small metadata file at ``url`` (retried like any download)."""
        body, _ = await self.downloader.get_bytes(url, headers=headers)
        return body
