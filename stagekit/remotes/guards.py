"""Checks the bundled remotes run on what a remote hands over: counts, pages, sizes, URLs.

Each check raises `stagekit.errors.LimitExceededError` (or `UnsafeURLError`) naming the
URL, the limit and the `stagekit.limits.Limits` setting that allows more, so the unit
concerned fails with a clear message and the rest of the run goes on.
"""

from __future__ import annotations

from collections.abc import Iterable

from stagekit.errors import LimitExceededError, UnsafeURLError
from stagekit.limits import Limits
from stagekit.urls import handed_url, redact_url

__all__ = ["check_count", "check_size", "foreign_urls", "next_page"]


def _exceeded(what: str, where: str, setting: str, value: int, field: str | None = None
              ) -> LimitExceededError:
    return LimitExceededError(
        f"{where}: {what} is more than the limit of {value} (Limits.{setting}; raise it "
        f"with DownloadConfig(limits=Limits({setting}=...)))",
        url=where, limit=setting, value=value, field=field)


def check_count(count: int, limits: Limits, *, what: str, where: str,
                setting: str = "children", field: str | None = None) -> None:
    """Raise `LimitExceededError` when ``count`` passes ``limits.<setting>``."""
    value = getattr(limits, setting)
    if value is not None and count > value:
        raise _exceeded(f"{what} ({count if count < 10 * value else 'far more'})", where,
                        setting, value, field)


def check_size(size: int, limits: Limits, *, what: str, where: str,
               setting: str = "metadata_bytes") -> None:
    """Raise `LimitExceededError` when a declared ``size`` (bytes) passes a byte cap."""
    value = getattr(limits, setting)
    if value is not None and size > value:
        raise _exceeded(f"{what} declares {size} bytes, which", where, setting, value, "size")


def next_page(link: str | None, current: str, *, pages: int, limits: Limits,
              seen: set[str]) -> str | None:
    """The next page a ``Link: <...>; rel="next"`` names, checked; None at the end.

    The URL must stay on the origin of ``current`` (http or https), must not repeat a
    page, and ``pages`` (pages read so far) must stay within ``limits.pages``.
    """
    if link is None:
        return None
    where = redact_url(current)
    # Each page is on base's origin, so the next one on the current page's origin is too.
    target = handed_url(link, base=current, what="Link rel=next", same_origin=True)
    if target in seen:
        raise LimitExceededError(f"{where}: pagination loops back to {redact_url(target)}",
                                 url=where, limit="pages", field="Link")
    check_count(pages + 1, limits, what="the number of pages", where=where, setting="pages",
                field="Link")
    return target


def foreign_urls(urls: Iterable[str], *, base: str, follow: bool) -> list[str]:
    """The foreign ``urls`` of a descriptor worth trying: none unless ``follow``; then
    only the http(s) ones without credentials (any origin: the format allows it)."""
    if not follow:
        return []
    kept: list[str] = []
    for url in urls:
        try:
            kept.append(handed_url(url, base=base, what="OCI urls", same_origin=False))
        except UnsafeURLError:
            continue
    return kept
