"""Safe XML parsing for Maven files: defusedxml, namespace-agnostic element access."""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError, TreeBuilder

import defusedxml
import defusedxml.ElementTree as SafeET

from stagekit.errors import MetadataError

__all__ = ["child", "children", "local_name", "parse_xml", "text_of"]

_FEED = 64 * 1024


def parse_xml(data: bytes, *, url: str, what: str) -> Element:
    """Parse ``data`` refusing DTD entities and external references (no entity bombs).

    Raises `MetadataError` naming ``url`` for malformed or forbidden XML.
    """
    try:
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


def local_name(element: Element) -> str:
    """The tag without its ``{namespace}``: POMs come with and without the POM namespace."""
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


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


def text_of(element: Element | None, name: str | None = None) -> str | None:
    """Trimmed text of ``element`` (or of its child ``name``); None when absent or empty."""
    target = element if name is None else child(element, name)
    if target is None:
        return None
    text = "".join(target.itertext()).strip()
    return text or None
