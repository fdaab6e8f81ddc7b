"""Fetch one artifact robustly: aiohttp session, limits, retries, streaming digests.

`Downloader` is the engine that `stagekit.stages.ArtifactDownloader` drives::

    async with Downloader(DownloadConfig(), temp_dir=store.temp_dir) as d:
        result = await d.fetch([url, mirror], expected_digests={"sha256": hexdigest})
"""

from stagekit.download.config import DownloadConfig, DownloadResult
from stagekit.download.retry import RetryPolicy, parse_retry_after
from stagekit.download.session import Downloader

__all__ = ["DownloadConfig", "DownloadResult", "Downloader", "RetryPolicy", "parse_retry_after"]
