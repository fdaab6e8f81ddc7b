"""Turning caller rows into catalog values: JSON, timestamps, scrubbed text."""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from stagekit.errors import StoreError
from stagekit.urls import REDACTED, redact_text, redact_url

__all__ = [
    "edge_triple",
    "from_json",
    "natural_key_json",
    "scrub",
    "split_extra",
    "timestamp",
    "to_json",
    "url_text",
    "utc_now_iso",
]

_SECRET_KEYS = frozenset({"password", "passwd", "token", "secret", "api_key", "apikey", "auth"})
_SECRET_KEY_MAX = max(len(name) for name in _SECRET_KEYS)
# Exact types: subclasses (enums, custom str) take the scrubbing path.
_SCALARS = frozenset({int, float, bool, type(None)})
_DECODER = json.JSONDecoder()


def _encoder(sort_keys: bool) -> Callable[[Any], str]:
    """A compact JSON encoder built once: json.dumps with options builds one per call.

    CPython's C encoder is called directly when there is one (about twice as fast on small
    values); it gets no circular-reference markers, so values must be acyclic (scrubbed
    or checked by `_is_clean`, which would not terminate on a cycle either).
    """
    portable = json.JSONEncoder(separators=(",", ":"), sort_keys=sort_keys, ensure_ascii=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    try:
        encode = make(  # type: ignore[misc]
            None,
            portable.default,
            json.encoder.encode_basestring,
            None,
            ":",
            ",",
            sort_keys,
            False,
            True,
        )

        def fast(value: Any) -> str:
            return "".join(encode(value, 0))

        sample = {"b": [1, None], "a": "é"}
        if fast(sample) == portable.encode(sample):
            return fast
    except TypeError:  # no C encoder, or one with another signature
        pass
    return portable.encode


_ENCODE = _encoder(sort_keys=True)
_ENCODE_KEY = _encoder(sort_keys=False)


def utc_now_iso() -> str:
    """The current UTC time as ISO 8601 text with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def scrub(value: Any) -> Any:
    """``value`` made JSON-ready, with credentials removed from URLs and secret-named keys."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            name = str(k)
            secret = name.lower() in _SECRET_KEYS and v not in (None, "")
            out[name] = REDACTED if secret else scrub(v)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact_text(str(value))


def _is_clean(value: Any) -> bool:
    """Whether `scrub` would leave ``value`` as it is (so it can go to JSON directly)."""
    kind = type(value)
    if kind is dict:
        for k, v in value.items():
            # Every secret key name is at most 8 characters: skip lower() for longer ones.
            if type(k) is not str or (len(k) <= _SECRET_KEY_MAX and k.lower() in _SECRET_KEYS):
                return False
            vkind = type(v)
            if vkind is str:
                if "://" in v:
                    return False
            elif vkind not in _SCALARS and not _is_clean(v):
                return False
        return True
    if kind is str:
        return "://" not in value
    if kind in _SCALARS:
        return True
    if kind is list or kind is tuple:
        return all(_is_clean(v) for v in value)
    return False


def to_json(value: Any) -> str:
    """Compact, deterministic JSON of a scrubbed ``value``."""
    if not value and type(value) is dict:
        return "{}"
    # The scrub copy is only needed when something could hold a secret or is not JSON.
    return _ENCODE(value if _is_clean(value) else scrub(value))


def from_json(text: str | None) -> Any:
    """Parse catalog JSON; None and empty text give an empty dict."""
    if not text or text == "{}":
        return {}
    try:
        # Catalog JSON is compact: skip decode()'s whitespace handling, check the end instead.
        value, end = _DECODER.raw_decode(text)
    except ValueError:
        end = -1
    return value if end == len(text) else _DECODER.decode(text)


def natural_key_json(natural_key: Any, unit: str) -> str:
    """The natural key as a JSON array: the stored half of content's unique key."""
    if type(natural_key) is tuple:
        for part in natural_key:
            if type(part) is not str:
                break
            # What JSON escapes (with ensure_ascii off) is never printable.
            if not part.isprintable() or '"' in part or "\\" in part:
                return _ENCODE_KEY(natural_key)  # strings only, one to escape
        else:  # the usual key: plain strings, written out as the encoder would
            return '["' + '","'.join(natural_key) + '"]' if natural_key else "[]"
    if isinstance(natural_key, (str, bytes)) or not isinstance(natural_key, Iterable):
        raise StoreError(f"unit {unit}: natural_key must be a tuple, got {natural_key!r}")
    parts = [
        p if p is None or isinstance(p, (str, int, float, bool)) else str(p) for p in natural_key
    ]
    return _ENCODE_KEY(parts)


def timestamp(value: Any, what: str) -> float | None:
    """Epoch seconds from a float, a datetime or ISO text (naive means UTC)."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise StoreError(f"{what}: {value!r} is not an ISO 8601 time") from exc
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return float(value.timestamp())
    raise StoreError(f"{what}: {value!r} is not a time")


def url_text(url: Any) -> str | None:
    """A URL (or the first of several mirrors) without credentials, for storing."""
    if url is None:
        return None
    if isinstance(url, (list, tuple)):
        url = url[0] if url else None
        if url is None:
            return None
    # redact_url returns a URL with nothing to hide unchanged, cheaply when it has no "@"/"?".
    return redact_url(str(url))


def split_extra(row: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The keys of ``row`` that have no column of their own."""
    if row.keys() <= known:
        return {}
    return {k: v for k, v in row.items() if k not in known}


def edge_triple(row: Any) -> tuple[str, str, str]:
    """``(parent_key, child_key, relation)`` from a mapping or a 2/3-tuple; relation '' if none."""
    if isinstance(row, Mapping):
        parent = row.get("parent_key", row.get("parent"))
        child = row.get("child_key", row.get("child"))
        relation = row.get("relation")
    else:
        try:
            parent, child, *rest = row
        except (TypeError, ValueError) as exc:
            raise StoreError(f"edge {row!r} must be (parent, child[, relation])") from exc
        relation = rest[0] if rest else None
    if not parent or not child:
        raise StoreError(f"edge {row!r} needs a parent and a child key")
    return str(parent), str(child), "" if relation is None else str(relation)
