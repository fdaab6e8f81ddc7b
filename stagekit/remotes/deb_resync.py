"""What lets a Debian re-sync of an unchanged archive skip the indexes it already read.

The Release names every index by its sha256. When the store holds that digest, the
stored file is the index (nothing to download); when a finished run of the same remote
read the index with that digest, the catalog holds its packages (nothing to parse):
`record_known_packages` has the run record them from the catalog in bulk
(`stagekit.known`), and where the run cannot, `known_packages` gives their fields to
declare them one by one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from stagekit.context import RunContext
from stagekit.download import DownloadResult
from stagekit.errors import DownloadError, HTTPStatusError
from stagekit.limits import limits_of
from stagekit.models import DeclarativeContent

__all__ = ["fetch_first", "held_in_store", "known_packages", "record_known_packages"]

log = logging.getLogger(__name__)

_PACKAGE_FIELDS = frozenset({"name", "version", "architecture", "filename", "size", "sha256"})


async def held_in_store(ctx: RunContext, sha256: str, size: int) -> bool:
    """Whether the run's store holds the file the Release lists as ``sha256``/``size``."""
    if ctx.store is None:
        return False
    return await asyncio.to_thread(ctx.store.has, sha256.lower(), size)


async def fetch_first(
    ctx: RunContext, urls: list[str], sha256: str, size: int
) -> tuple[DownloadResult, str]:
    """Fetch the first of ``urls`` that serves the verified file; the result and its URL.

    A by-hash URL that the archive does not serve (404, 403, 410) is normal, so the next
    URL is tried without a warning; the last URL's error is raised if none works.
    """
    for number, url in enumerate(urls, 1):
        try:
            result = await ctx.downloader.fetch(
                url, expected_digests={"sha256": sha256}, expected_size=size)
        except DownloadError as exc:
            if number == len(urls):
                raise
            if isinstance(exc, HTTPStatusError) and exc.status in (403, 404, 410):
                log.debug("not served, trying the next URL: %s", exc)
            else:
                log.info("unusable, trying the next URL: %s", exc)
            continue
        return result, url
    raise AssertionError("fetch_first needs at least one URL")


async def known_packages(
    ctx: RunContext, index_key: str, sha256: str | None, remote: str
) -> list[dict[str, Any]] | None:
    """The package fields an earlier finished run of ``remote`` read from this very index.

    None (parse it) without a store or digest, when no such run exists, or when one of
    its packages was not saved whole (it failed, and must fail again the same way).
    """
    if ctx.store is None or not sha256:
        return None
    known = await asyncio.to_thread(
        ctx.store.catalog.known_children, index_key, sha256, remote=remote,
        relation="package", child_kind="deb.package")
    if known is None or any(set(fields) != _PACKAGE_FIELDS for fields in known):
        return None
    log.debug("%s: %d packages from the catalog, index not parsed", index_key, len(known))
    return known


async def record_known_packages(
    ctx: RunContext, dc: DeclarativeContent, sha256: str | None, remote: str
) -> bool:
    """Record the packages an earlier finished run of ``remote`` read from this very
    index (``dc``, stored as ``sha256``) without parsing it; False when that cannot be
    done (no such run, a package failed in it, or the run must fetch something)."""
    if ctx.store is None or not sha256:
        return False
    known = await asyncio.to_thread(
        ctx.store.catalog.known_units, dc.key, sha256, remote=remote, relation="package",
        child_kind="deb.package", deferring=ctx.policy == "metadata-only")
    # More than this run allows: parse, so that the limit fails the index as it would.
    if known is None or len(known.keys) > limits_of(ctx.downloader).children:
        return False
    if not await ctx.record_known(dc, known):
        return False
    log.debug("%s: %d packages recorded from the catalog, index not parsed", dc.key,
              len(known.keys))
    return True
