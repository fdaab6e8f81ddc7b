"""Turning caller rows into catalog values: JSON, timestamps, scrubbed text."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
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
_SCALARS = (int, float, bool, type(None))  # exact types: subclasses take the slow path
# One encoder each, built once: json.dumps with options builds a new encoder per call.
_ENCODE = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode
_ENCODE_KEY = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_DECODE = json.JSONDecoder().decode


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
    if kind is str:
        return "://" not in value
    if kind in _SCALARS:
        return True
    if kind is dict:
        for k, v in value.items():
            if type(k) is not str or k.lower() in _SECRET_KEYS or not _is_clean(v):
                return False
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
    return _DECODE(text)


def natural_key_json(natural_key: Any, unit: str) -> str:
    """The natural key as a JSON array: the stored half of content's unique key."""
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
        return value.timestamp()
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
