"""Safe XML parsing for Maven files: defusedxml, namespace-agnostic element access."""

from __future__ import annotations

import re
from typing import Any
from xml.etree.ElementTree import Element, ParseError, TreeBuilder, XMLParser

import defusedxml
import defusedxml.ElementTree as SafeET

from stagekit.errors import MetadataError

__all__ = [
    "child",
    "children",
    "first_children",
    "full_text",
    "local_name",
    "parse_xml",
    "text_of",
]

_FEED = 64 * 1024


# An XML declaration naming an encoding in which markup is written in ASCII bytes.
_DECLARED = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_ASCII_MARKUP = frozenset({"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1",
                           "latin1"})


def _without_dtd(data: bytes) -> bool:
    """Whether ``data`` certainly holds no document type declaration.

    Without one there are no entity declarations and no external entities: nothing for
    defusedxml to refuse, so the C parser may read it. Certain only when the markup is
    ASCII bytes (UTF-8 with or without its BOM, ASCII, Latin-1); anything else (UTF-16,
    an EBCDIC code page...) is left to the defused parser.
    """
    if not data.startswith((b"<", b"\xef\xbb\xbf<")) or b"<!DOCTYPE" in data:
        return False
    head = data[:256]
    if not head.lstrip(b"\xef\xbb\xbf").startswith(b"<?xml"):
        return True
    declared = _DECLARED.match(head.lstrip(b"\xef\xbb\xbf"))
    if declared is None:
        return b"encoding" not in head.split(b"?>", 1)[0]
    return declared.group(1).decode("ascii").lower() in _ASCII_MARKUP


def parse_xml(data: bytes, *, url: str, what: str) -> Element:
    """Parse ``data`` refusing DTD entities and external references (no entity bombs).

    Raises `MetadataError` naming ``url`` for malformed or forbidden XML. A document
    without a document type declaration (nearly every POM) is read by the C parser, which
    makes no Python call per element; any other goes through defusedxml.
    """
    try:
        if _without_dtd(data):
            parser: Any = XMLParser(target=TreeBuilder())
        else:
            parser = SafeET.DefusedXMLParser(target=TreeBuilder(), forbid_dtd=False,
                                             forbid_entities=True, forbid_external=True)
        # Fed in pieces: expat holds the GIL for a whole feed, and a hostile 16 MiB POM
        # parsed in a worker would otherwise stall the event loop for seconds.
        for start in range(0, len(data), _FEED):
            parser.feed(data[start:start + _FEED])
        return parser.close()
    except defusedxml.DefusedXmlException as e:
        raise MetadataError(f"{url}: {what} uses forbidden XML ({e})", url=url) from e
    except ParseError as e:
        raise MetadataError(f"{url}: {what} is not well-formed XML ({e})", url=url) from e


# Tag -> local name: a POM repeats a few dozen tags thousands of times. Bounded, so a
# hostile file with 50,000 distinct tags cannot grow it.
_LOCAL: dict[str, str] = {}
_LOCAL_MAX = 4096


def local_name(element: Element) -> str:
    """The tag without its ``{namespace}``: POMs come with and without the POM namespace."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    name = _LOCAL.get(tag)
    if name is None:
        name = tag.rsplit("}", 1)[-1]
        if len(_LOCAL) < _LOCAL_MAX:
            _LOCAL[tag] = name
    return name


def first_children(element: Element | None) -> dict[str, Element]:
    """The first direct child of each local name, in one pass over the children."""
    first: dict[str, Element] = {}
    if element is not None:
        for e in element:
            first.setdefault(local_name(e), e)
    return first


def children(element: Element | None, name: str) -> list[Element]:
    """Direct children called ``name`` (any namespace)."""
    if element is None:
        return []
    return [e for e in element if local_name(e) == name]


def child(element: Element | None, name: str) -> Element | None:
    """The first direct child called ``name``, or None."""
    if element is None:
        return None
    for e in element:
        if local_name(e) == name:
            return e
    return None


def full_text(element: Element) -> str:
    """All the text inside ``element``, trimmed ("" when there is none)."""
    if len(element) == 0:  # a leaf, nearly always: its text is all there is
        text = element.text
        return text.strip() if text else ""
    return "".join(element.itertext()).strip()


def text_of(element: Element | None, name: str | None = None) -> str | None:
    """Trimmed text of ``element`` (or of its child ``name``); None when absent or empty."""
    target = element if name is None else child(element, name)
    if target is None:
        return None
    return full_text(target) or None
