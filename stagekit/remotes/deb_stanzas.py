"""A lean reader of Debian control stanzas (Packages indexes), keeping only wanted fields.

python-debian's `deb822` builds a case-insensitive mapping per stanza and keeps every
field's text; a 60,000-stanza index then costs far more than the few fields the remote
reads. This reader walks the lines once and keeps, per stanza, a plain ``dict`` of the
wanted fields (all fields when ``fields`` is None). Field names match case-insensitively
and are stored under the spelling asked for. It consumes any iterator of lines, so the
caller decides how lines are read (and how long one may be).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

__all__ = ["StanzaParser", "StanzaTooLarge", "iter_stanzas"]


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


# A block needs the line-by-line rules first when it has a carriage return, a comment
# line or a whitespace-only line starting with a blank (all of them end a stanza or
# vanish under `iter_stanzas`); any other block is split on empty lines directly.
_BLANK_LOOKING = re.compile(r"\n[ \t]\s*\n")  # (one regex per test: alternations are slow)
_FIELD_LINE = re.compile(r"^(?:[^ \t\n][^\n]*)?:", re.M)
_ANY_FIELD = re.compile(r"^((?:[^ \t\n:][^\n:]*)?):([^\n]*(?:\n[ \t][^\n]*)*)", re.M)


def _odd(text: str) -> bool:
    """Whether ``text`` (whole lines) needs `_normalised` before splitting on empty lines."""
    if "\r" in text or "\n#" in text or text[:1] == "#":
        return True
    if (text[:1] == " " or text[:1] == "\t") and text[:text.find("\n")].isspace():
        return True
    return _BLANK_LOOKING.search(text) is not None


def _normalised(text: str) -> str:
    """``text`` (whole lines) with `iter_stanzas`'s line rules applied: blank-looking lines
    empty, comment lines gone, carriage returns off continuation lines."""
    out: list[str] = []
    for line in text.split("\n")[:-1]:
        first = line[:1]
        if first == " " or first == "\t":
            out.append("" if line.isspace() else line.rstrip("\r"))
        elif first == "\r" or not first:
            out.append("")
        elif first != "#":
            out.append(line)
    out.append("")
    return "\n".join(out)


class StanzaParser:
    """Stanzas of text fed block by block, the same dicts `iter_stanzas` gives.

    `feed` takes whole lines (each block ends with a newline) and returns the stanzas it
    completed; `finish` returns the last one. Most of the work is done by ``str.split``
    and one regular expression per stanza, not per line. ``max_chars`` bounds a stanza
    that is still incomplete (`StanzaTooLarge`), so an index without blank lines cannot
    make it hold more than that.
    """

    def __init__(self, fields: Iterable[str] | None = None, max_chars: int | None = None
                 ) -> None:
        self.max_chars = max_chars
        self._carry: list[str] = []
        self._carry_len = 0
        if fields is None:
            self._pattern = _ANY_FIELD
            self._names: dict[str, str] | None = None
        else:
            names = {f.lower(): f for f in fields}
            alternatives = "|".join(re.escape(f) for f in sorted(names, key=len, reverse=True))
            self._names = names | {f: f for f in names.values()}
            self._pattern = re.compile(
                rf"^({alternatives}):([^\n]*(?:\n[ \t][^\n]*)*)" if names else r"(?!)",
                re.M | re.I | re.A)

    def feed(self, text: str) -> list[dict[str, str]]:
        """The stanzas completed by ``text`` (whole lines), in order."""
        if _odd(text):
            text = _normalised(text)
        if not text:
            return []
        carry = self._carry
        if "\n\n" not in text and not (carry and text[:1] == "\n" and carry[-1][-1:] == "\n"):
            carry.append(text)
            self._carry_len += len(text)
            self._check_carry()
            return []
        if carry:
            carry.append(text)
            text = "".join(carry)
            carry.clear()
        parts = text.split("\n\n")
        last = parts.pop()
        if last:
            carry.append(last)
        self._carry_len = len(last)
        self._check_carry()
        return self._stanzas(parts)

    def finish(self) -> list[dict[str, str]]:
        """The last stanza, if the text did not end with an empty line."""
        parts = ["".join(self._carry)]
        self._carry.clear()
        self._carry_len = 0
        return self._stanzas(parts)

    def _check_carry(self) -> None:
        if self.max_chars is not None and self._carry_len > self.max_chars:
            raise StanzaTooLarge(self._carry_len)

    def _stanzas(self, parts: list[str]) -> list[dict[str, str]]:
        found: list[dict[str, str]] = []
        findall, names, max_chars = self._pattern.findall, self._names, self.max_chars
        has_field = _FIELD_LINE.search
        for part in parts:
            if max_chars is not None and len(part) > max_chars:
                raise StanzaTooLarge(len(part))
            stanza: dict[str, str] = {}
            for name, value in findall(part):
                if "\n" in value:
                    head, _, rest = value.partition("\n")
                    value = head.strip() + "\n" + rest
                else:
                    value = value.strip()
                if names is None:
                    stanza[name] = value
                else:
                    stanza[names.get(name) or names[name.lower()]] = value
            if stanza or has_field(part) is not None:  # else blank or no field: no stanza
                found.append(stanza)
        return found


class StanzaTooLarge(Exception):
    """A stanza longer than `StanzaParser.max_chars` (its length so far)."""

    def __init__(self, chars: int) -> None:
        super().__init__(chars)
        self.chars = chars
