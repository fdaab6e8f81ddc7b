"""A lean reader of Debian control stanzas (Packages indexes), keeping only wanted fields.

python-debian's `deb822` builds a case-insensitive mapping per stanza and keeps every
field's text; a 60,000-stanza index then costs far more than the few fields the remote
reads. This reader walks the lines once and keeps, per stanza, a plain ``dict`` of the
wanted fields (all fields when ``fields`` is None). Field names match case-insensitively
and are stored under the spelling asked for. It consumes any iterator of lines, so the
caller decides how lines are read (and how long one may be).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["iter_stanzas"]


def iter_stanzas(lines: Iterable[str], fields: Iterable[str] | None = None
                 ) -> Iterator[dict[str, str]]:
    """Yield one dict per stanza of ``lines`` (stanzas end at blank lines).

    A multi-line value keeps its continuation lines, joined with newlines as
    python-debian does; lines starting with ``#`` and lines without a colon are skipped.
    Every stanza with at least one field line is yielded, even when none was wanted.
    """
    wanted = None if fields is None else {f.lower(): f for f in fields}
    stanza: dict[str, str] = {}
    seen = False
    current: str | None = None  # the kept field that continuation lines extend
    for line in lines:
        first = line[:1]
        if first == " " or first == "\t":
            if line.isspace():
                if seen:
                    yield stanza
                    stanza, seen, current = {}, False, None
            elif current is not None:
                stanza[current] += "\n" + line.rstrip("\r\n")
            continue
        if first == "\n" or first == "\r" or not first:
            if seen:
                yield stanza
                stanza, seen, current = {}, False, None
            continue
        if first == "#":
            continue
        name, colon, value = line.partition(":")
        if not colon:
            current = None
            continue
        seen = True
        if wanted is None:
            current = name
        else:
            current = wanted.get(name) or wanted.get(name.lower())
            if current is None:
                continue
        stanza[current] = value.strip()
    if seen:
        yield stanza
