"""Maven version ordering (ComparableVersion rules) and version ranges.

Ordering follows maven-artifact's ``ComparableVersion``: a version is split into items at
``.``, ``-`` and digit/letter transitions (a transition or ``-`` opens a sub-list); numbers
compare numerically, qualifiers as ``alpha < beta < milestone < rc = cr < snapshot <
"" = ga = final = release < sp < any other (alphabetically)``; case is ignored; trailing
zeros and release qualifiers are dropped (``1 = 1.0 = 1.0.0 = 1-ga``); ``a1``, ``b1``,
``m1`` mean ``alpha-1``, ``beta-1``, ``milestone-1``.

A version is remote data: one longer than `MAX_VERSION_LENGTH` characters or nesting
deeper than `MAX_VERSION_DEPTH` sub-lists is refused with a `MetadataError` (no
RecursionError, no integer conversion limit); in a list of versions it is skipped.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from stagekit.errors import MetadataError

__all__ = [
    "MAX_VERSION_DEPTH",
    "MAX_VERSION_LENGTH",
    "ComparableVersion",
    "Restriction",
    "VersionRange",
    "compare_versions",
    "highest_matching",
    "highest_version",
    "is_range",
    "parse_range",
]

log = logging.getLogger(__name__)

#: Longest version compared (Maven Central's longest are under 100 characters).
MAX_VERSION_LENGTH = 256
#: Most nested sub-lists (each ``-`` or digit/letter switch opens one).
MAX_VERSION_DEPTH = 64

_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_RELEASE_INDEX = str(_QUALIFIERS.index(""))
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_SHORT = {"a": "alpha", "b": "beta", "m": "milestone"}

# Items: int (number), str (qualifier, already aliased), list (sub-list).
_Item = int | str | list


def _qualifier_rank(value: str) -> str:
    if value in _QUALIFIERS:
        return str(_QUALIFIERS.index(value))
    return f"{len(_QUALIFIERS)}-{value}"


def _string_item(value: str, followed_by_digit: bool) -> str:
    if followed_by_digit and value in _SHORT:
        value = _SHORT[value]
    return _ALIASES.get(value, value)


def _cmp(a: _Item, b: _Item | None) -> int:
    if isinstance(a, int):
        if b is None:
            return 0 if a == 0 else 1
        if isinstance(b, int):
            return (a > b) - (a < b)
        return 1
    if isinstance(a, str):
        ra = _qualifier_rank(a)
        if b is None:
            return (ra > _RELEASE_INDEX) - (ra < _RELEASE_INDEX)
        if isinstance(b, int) or isinstance(b, list):
            return -1
        rb = _qualifier_rank(b)
        return (ra > rb) - (ra < rb)
    if b is None:
        for item in a:
            result = _cmp(item, None)
            if result:
                return result
        return 0
    if isinstance(b, int):
        return -1
    if isinstance(b, str):
        return 1
    for i in range(max(len(a), len(b))):
        left = a[i] if i < len(a) else None
        right = b[i] if i < len(b) else None
        if left is None:
            result = 0 if right is None else -_cmp(right, None)
        else:
            result = _cmp(left, right)
        if result:
            return result
    return 0


def _is_null(item: _Item) -> bool:
    return item == 0 or item == "" or item == []


def _normalize(items: list) -> None:
    for i in range(len(items) - 1, -1, -1):
        if _is_null(items[i]):
            del items[i]
        elif not isinstance(items[i], list):
            break


def _parse_item(is_digit: bool, text: str) -> _Item:
    return int(text) if is_digit else _string_item(text, False)


def _parse(version: str) -> list:
    if len(version) > MAX_VERSION_LENGTH:
        raise MetadataError(f"version {version[:40]!r}... is {len(version)} characters long, "
                            f"more than the {MAX_VERSION_LENGTH} compared", field="version")
    text = version.lower()
    items: list = []
    current = items
    stack = [items]
    is_digit = False
    start = 0

    def sublist() -> None:
        nonlocal current
        if len(stack) > MAX_VERSION_DEPTH:
            raise MetadataError(f"version {version[:40]!r} nests more than "
                                f"{MAX_VERSION_DEPTH} items", field="version")
        new: list = []
        current.append(new)
        current = new
        stack.append(new)

    for i, c in enumerate(text):
        if c in ".-":
            current.append(0 if i == start else _parse_item(is_digit, text[start:i]))
            start = i + 1
            if c == "-":
                sublist()
        elif c.isdigit() and c.isascii():
            if not is_digit and i > start:
                # "1.0.0.X1" < "1.0.0-X2": a qualifier after a dot acts as after a hyphen
                if current:
                    sublist()
                current.append(_string_item(text[start:i], True))
                start = i
                sublist()
            is_digit = True
        else:
            if is_digit and i > start:
                current.append(_parse_item(True, text[start:i]))
                start = i
                sublist()
            is_digit = False
    if len(text) > start:
        if not is_digit and current:
            sublist()
        current.append(_parse_item(is_digit, text[start:]))
    for lst in reversed(stack):
        _normalize(lst)
    return items


def _freeze(items: list) -> tuple:
    return tuple(_freeze(i) if isinstance(i, list) else i for i in items)


@functools.total_ordering
class ComparableVersion:
    """A Maven version that sorts as Maven sorts it; equal versions hash alike."""

    __slots__ = ("_items", "_key", "original")

    def __init__(self, version: str) -> None:
        self.original = version
        self._items = _parse(version)
        self._key = _freeze(self._items)

    def compare(self, other: ComparableVersion) -> int:
        """-1, 0 or 1, as ``Comparable.compareTo``."""
        return _cmp(self._items, other._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ComparableVersion):
            return NotImplemented
        return self.compare(other) == 0

    def __lt__(self, other: ComparableVersion) -> bool:
        return self.compare(other) < 0

    def __hash__(self) -> int:
        return hash(self._key)

    def __str__(self) -> str:
        return self.original

    def __repr__(self) -> str:
        return f"ComparableVersion({self.original!r})"


def compare_versions(a: str, b: str) -> int:
    """Compare two version strings the Maven way: -1, 0 or 1."""
    return ComparableVersion(a).compare(ComparableVersion(b))


def _comparable(versions: Iterable[str]) -> Iterable[ComparableVersion]:
    """``versions`` as `ComparableVersion`, skipping (and logging) those refused."""
    skipped = 0
    for text in versions:
        try:
            yield ComparableVersion(text)
        except MetadataError as exc:
            skipped += 1
            if skipped <= 3:
                log.warning("skipping a listed version: %s", exc)


def highest_version(versions: Iterable[str]) -> str | None:
    """The highest of ``versions`` in Maven order (None if there is none)."""
    best = max(_comparable(versions), default=None)
    return None if best is None else best.original


@dataclass(frozen=True, slots=True)
class Restriction:
    """One interval of a range; a missing bound is unbounded."""

    lower: ComparableVersion | None
    lower_inclusive: bool
    upper: ComparableVersion | None
    upper_inclusive: bool

    def contains(self, version: ComparableVersion) -> bool:
        """Whether ``version`` lies in the interval."""
        if self.lower is not None:
            c = self.lower.compare(version)
            if c > 0 or (c == 0 and not self.lower_inclusive):
                return False
        if self.upper is not None:
            c = self.upper.compare(version)
            if c < 0 or (c == 0 and not self.upper_inclusive):
                return False
        return True


_EVERYTHING = Restriction(None, False, None, False)


@dataclass(frozen=True, slots=True)
class VersionRange:
    """A parsed version spec: a soft ``recommended`` version, or a union of restrictions."""

    spec: str
    restrictions: tuple[Restriction, ...]
    recommended: str | None = None

    @property
    def is_range(self) -> bool:
        """True for a hard range (``[...]``/``(...)``), False for a soft version like ``1.0``."""
        return self.recommended is None

    def contains(self, version: str | ComparableVersion) -> bool:
        """Whether ``version`` satisfies the spec (a soft version is satisfied by anything)."""
        v = version if isinstance(version, ComparableVersion) else ComparableVersion(version)
        return any(r.contains(v) for r in self.restrictions)


def is_range(spec: str) -> bool:
    """Whether a version spec is a hard range that must be resolved against metadata."""
    return spec.strip().startswith(("[", "("))


def _invalid(spec: str, why: str) -> MetadataError:
    return MetadataError(f"invalid version range {spec!r}: {why}", field="version")


def _parse_restriction(spec: str, whole: str) -> Restriction:
    lower_inclusive = spec.startswith("[")
    upper_inclusive = spec.endswith("]")
    inner = spec[1:-1].strip()
    if "," not in inner:
        if not (lower_inclusive and upper_inclusive):
            raise _invalid(whole, "a single version must be surrounded by []")
        if not inner:
            raise _invalid(whole, "empty version")
        v = ComparableVersion(inner)
        return Restriction(v, True, v, True)
    low_text, high_text = (s.strip() for s in inner.split(",", 1))
    if "," in high_text:
        raise _invalid(whole, "a restriction has more than two bounds")
    if low_text and low_text == high_text:
        raise _invalid(whole, "a range cannot have identical bounds")
    low = ComparableVersion(low_text) if low_text else None
    high = ComparableVersion(high_text) if high_text else None
    if low is not None and high is not None and high < low:
        raise _invalid(whole, "the upper bound is below the lower bound")
    return Restriction(low, lower_inclusive, high, upper_inclusive)


def parse_range(spec: str) -> VersionRange:
    """Parse a version spec: ``1.0`` (soft), ``[1.0]``, ``[1.0,2.0)``, ``(,1.0],[1.2,)``...

    Raises `MetadataError` for an unbounded, overlapping or reversed range.
    """
    rest = spec.strip()
    if not rest:
        raise _invalid(spec, "empty version")
    restrictions: list[Restriction] = []
    upper: ComparableVersion | None = None
    while rest.startswith(("[", "(")):
        ends = [i for i in (rest.find("]"), rest.find(")")) if i >= 0]
        if not ends:
            raise _invalid(spec, "unbounded range")
        end = min(ends)
        restriction = _parse_restriction(rest[: end + 1], spec)
        if restrictions and (
            restriction.lower is None or upper is None or restriction.lower < upper
        ):
            raise _invalid(spec, "ranges overlap")
        restrictions.append(restriction)
        upper = restriction.upper
        rest = rest[end + 1 :].strip()
        if rest.startswith(","):
            rest = rest[1:].strip()
    if rest:
        if restrictions:
            raise _invalid(spec, "only bracketed ranges are allowed in a union")
        return VersionRange(spec, (_EVERYTHING,), recommended=rest)
    return VersionRange(spec, tuple(restrictions))


def highest_matching(spec: str | VersionRange, versions: Iterable[str]) -> str | None:
    """The highest of ``versions`` inside the range, or None.

    A soft version (``1.0``) is a requirement on that exact version, as Maven treats it when
    nothing else conflicts: it is returned unchanged whatever ``versions`` holds.
    """
    vr = spec if isinstance(spec, VersionRange) else parse_range(spec)
    if vr.recommended is not None:
        return vr.recommended
    best: ComparableVersion | None = None
    for v in _comparable(versions):
        if vr.contains(v) and (best is None or v > best):
            best = v
    return None if best is None else best.original
