"""A tree of linked web pages, and the small remote that crawls it.

``make_page_tree(fanout, depth)`` builds a `Repo` of HTML pages: the root
``pages/r.html`` links its ``fanout`` children, each of them its own, ``depth`` levels
down (fanout 4, depth 6: 5,461 pages). Each link carries the child's sha256
(``<a href="..." data-sha256="...">``), so a crawler that stores pages can verify them.

`PageCrawler` declares each page as a unit and, once it is saved, reads its links and
declares the children. ``store_pages=False``: the page is a unit without artifacts, read
through the run's downloader (`RunContext.get_bytes`) when it is explored, never stored.
``store_pages=True``: the page is the unit's artifact, downloaded, verified against the
parent's digest, stored, then read back from the store. The crawl benchmark measures
both against a bare aiohttp crawler.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from stagekit.context import RunContext
from stagekit.errors import MetadataError
from stagekit.models import Content, DeclarativeArtifact, DeclarativeContent, unit_key
from stagekit.remote import HTTPRemote
from stagekit.testing.repo import Expected, ExpectedArtifact, ExpectedUnit, Repo, StaticFile
from stagekit.urls import handed_url, redact_url

__all__ = ["LINK", "MAX_LINKS", "Page", "PageCrawler", "PageTree", "make_page_tree",
           "tree_size"]

#: A link in a page: its href, then the linked page's sha256 when the page gives it.
LINK = re.compile(rb'<a href="([^"]*)"(?: data-sha256="([0-9a-f]{64})")?')
#: More links than this in one page is a lie: the page fails instead of flooding the run.
MAX_LINKS = 1000
ROOT_PATH = "pages/r.html"
_FILLER = (b"<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod "
           b"tempor incididunt ut labore et dolore magna aliqua.</p>\n") * 6


def tree_size(fanout: int, depth: int) -> int:
    """Pages in a complete tree: 1 + fanout + ... + fanout**depth."""
    return sum(fanout ** level for level in range(depth + 1))


def _page_path(name: str) -> str:
    return f"pages/{name}.html"


def _render(name: str, links: list[tuple[str, str]]) -> bytes:
    items = b"".join(b'<li><a href="/%s" data-sha256="%s">%s</a></li>\n'
                     % (path.encode(), sha.encode(), path.encode()) for path, sha in links)
    return (b"<!doctype html>\n<html><head><title>page %s</title></head><body>\n%s<ul>\n%s"
            b"</ul></body></html>\n" % (name.encode(), _FILLER, items))


class PageTree(Repo):
    """The generated pages; ``roots`` is the root page's URL path, ``pages`` their count."""

    def __init__(self, files: dict[str, StaticFile], expected: Expected) -> None:
        super().__init__(files, expected)
        self.pages = len(files)

    def entry_path(self) -> str:
        """The root page."""
        return ROOT_PATH

    def expected_for(self, store_pages: bool) -> Expected:
        """What `PageCrawler` must find: ``expected``, without artifacts unless pages are
        stored."""
        if store_pages:
            return self.expected
        units = {key: ExpectedUnit(unit.key, unit.kind, unit.depth)
                 for key, unit in self.expected.units.items()}
        return Expected(units, set(self.expected.edges))


def make_page_tree(fanout: int = 4, depth: int = 6) -> PageTree:
    """A complete tree of ``tree_size(fanout, depth)`` pages; the expected units carry each
    page's artifact (what `PageCrawler(store_pages=True)` stores)."""
    if fanout < 1 or depth < 0:
        raise ValueError(f"fanout must be >= 1 and depth >= 0, got {fanout} and {depth}")
    files: dict[str, StaticFile] = {}
    expected = Expected()
    level = ["r"]
    levels = [level]
    for _ in range(depth):
        level = [f"{name}-{i}" for name in level for i in range(fanout)]
        levels.append(level)
    digests: dict[str, str] = {}
    for d in range(depth, -1, -1):  # leaves first: a page links its children's digests
        for name in levels[d]:
            children = [f"{name}-{i}" for i in range(fanout)] if d < depth else []
            body = _render(name, [(_page_path(c), digests[c]) for c in children])
            path = _page_path(name)
            digests[name] = hashlib.sha256(body).hexdigest()
            files[path] = StaticFile(body, "text/html")
            key = unit_key(Page.kind, (path,))
            expected.add_unit(ExpectedUnit(key, Page.kind, d, [
                ExpectedArtifact(path, digests[name], len(body), path)]))
            for child in children:
                expected.edges.add((key, unit_key(Page.kind, (_page_path(child),)), None))
    return PageTree(files, expected)


@dataclass(frozen=True, slots=True)
class Page(Content):
    """One page, keyed by its URL path (no leading slash)."""

    kind = "crawl.page"
    path: str

    def natural_key(self) -> tuple[str]:
        return (self.path,)


class PageCrawler(HTTPRemote):
    """Crawls the pages linked from ``root_url`` on its origin (see the module's text)."""

    def __init__(self, root_url: str, *, store_pages: bool = False) -> None:
        super().__init__(root_url)
        self.root_url = root_url
        self.store_pages = store_pages
        parts = urlsplit(root_url)
        self.base = f"{parts.scheme}://{parts.netloc}/"

    def describe(self) -> str:
        """The crawl as shown in the catalog."""
        mode = "stored" if self.store_pages else "metadata-only"
        return f"page crawler ({mode}) {redact_url(self.root_url)}"

    def _declare(self, url: str, sha256: str | None) -> DeclarativeContent:
        path = urlsplit(url).path.lstrip("/")
        if not self.store_pages:
            return DeclarativeContent(Page(path))
        digests = {"sha256": sha256} if sha256 else None
        return DeclarativeContent(Page(path), [DeclarativeArtifact(url, path, digests=digests)])

    async def roots(self, ctx: RunContext) -> AsyncIterator[DeclarativeContent]:
        """The root page."""
        yield self._declare(self.root_url, None)

    async def discover(
        self, ctx: RunContext, unit: Content, dc: DeclarativeContent
    ) -> AsyncIterator[DeclarativeContent]:
        """The pages ``unit`` links to."""
        assert isinstance(unit, Page)
        url = self.base + unit.path
        if self.store_pages:
            body = dc.artifacts[unit.path].read_bytes()
        else:
            body = await ctx.get_bytes(url)
        links = LINK.findall(body)
        if len(links) > MAX_LINKS:
            raise MetadataError(f"{redact_url(url)} links {len(links)} pages, more than "
                                f"{MAX_LINKS}", url=redact_url(url), field="links")
        for href, sha256 in links:
            child = handed_url(href.decode("ascii", "replace"), base=url, what="page link")
            yield self._declare(child, sha256.decode() or None)
