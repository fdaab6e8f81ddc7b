"""What crosses between the coordinator and the workers: plain tuples in one pickle.

Units, artifacts and events travel as tuples of plain values (a dataclass unit as its
class and its field values), and a whole batch as one ``bytes`` blob: Dask then neither
walks the arguments of a task looking for nested tasks nor pickles object by object,
and unpickling builds no dataclass through ``__setstate__``. Both sides rebuild the
objects the engine and the stages use, without checking again what the other side's
constructors checked (paths, URLs, digests) and without computing a unit's key again:
a unit travels with its key and natural key.
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

from stagekit.events import (
    ArtifactFinished,
    EdgeAdded,
    Event,
    UnitDepthChanged,
    UnitDiscovered,
    UnitFinished,
)
from stagekit.models import Artifact, Content, DeclarativeArtifact, DeclarativeContent

__all__ = ["da_in", "da_out", "dc_in", "dc_out", "dumps", "events_in", "events_out", "loads"]

_new = object.__new__
_EVENT_TYPES: tuple[type, ...] = (UnitDiscovered, EdgeAdded, UnitDepthChanged, UnitFinished,
                                  ArtifactFinished)
_EVENT_CODE = {cls: i for i, cls in enumerate(_EVENT_TYPES)}
_EVENT_FIELDS = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in _EVENT_TYPES}
# Per Content class: its init field names when ``cls(*values)`` rebuilds it, else None.
_INIT_FIELDS: dict[type, tuple[str, ...] | None] = {}


def dumps(value: Any) -> bytes:
    """One blob for a batch (or its answer)."""
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def loads(blob: bytes) -> Any:
    """The value of a `dumps` blob."""
    return pickle.loads(blob)


def _init_fields(cls: type) -> tuple[str, ...] | None:
    try:
        return _INIT_FIELDS[cls]
    except KeyError:
        pass
    names: tuple[str, ...] | None = None
    if dataclasses.is_dataclass(cls):
        fields = dataclasses.fields(cls)
        if all(f.init for f in fields):
            names = tuple(f.name for f in fields)
    _INIT_FIELDS[cls] = names
    return names


def _content_out(content: Content) -> tuple[Any, Any]:
    cls = type(content)
    names = _init_fields(cls)
    if names is None:
        return None, content
    return cls, tuple([getattr(content, name) for name in names])


def _content_in(wire: tuple[Any, Any]) -> Content:
    cls, values = wire
    return values if cls is None else cls(*values)


def da_out(da: DeclarativeArtifact) -> tuple[Any, ...]:
    """An artifact's declaration, status and stored file as a tuple."""
    a = da.artifact
    stored = None if a is None else (a.sha256, a.size, a.digests, str(a.path))
    return (da.urls, da.relative_path, da.digests or None, da.size, da.deferred,
            da.extra_data or None, da.status, da.tries, stored)


def da_in(wire: tuple[Any, ...]) -> DeclarativeArtifact:
    """The `DeclarativeArtifact` of a `da_out` tuple (checked when it was declared)."""
    urls, path, digests, size, deferred, extra, status, tries, stored = wire
    da = _new(DeclarativeArtifact)
    da.urls = urls
    da.relative_path = path
    da.digests = digests or {}
    da.size = size
    da.deferred = deferred
    da.extra_data = extra or {}
    da.status = status
    da.tries = tries
    da.download = None
    da.error = None
    if stored is None:
        da.artifact = None
    else:
        sha256, stored_size, stored_digests, where = stored
        da.artifact = Artifact(sha256, stored_size, stored_digests, Path(where))
    return da


def dc_out(dc: DeclarativeContent) -> tuple[Any, ...]:
    """A unit's declaration (no future, no parent) as a tuple."""
    das = [da_out(da) for da in dc.d_artifacts] if dc.d_artifacts else None
    return (_content_out(dc.content), dc.identity[1], dc.key, dc.depth, dc.relation,
            dc.extra_data or None, das, dc.status)


def dc_in(wire: tuple[Any, ...]) -> DeclarativeContent:
    """The `DeclarativeContent` of a `dc_out` tuple (checked when it was declared)."""
    content, natural, key, depth, relation, extra, das, status = wire
    unit = _content_in(content)
    dc = _new(DeclarativeContent)
    dc.content = unit
    dc.identity = (unit.kind, natural)
    dc.key = key
    dc.d_artifacts = [da_in(t) for t in das] if das else []
    dc.extra_data = extra or {}
    dc.relation = relation
    dc.parent = None
    dc.depth = depth
    dc.status = status
    dc.error = None
    dc.owner = None
    dc._future = None
    dc._registry = None
    dc._thaw_event = None
    return dc


def events_out(events: list[Event]) -> list[tuple[Any, ...]]:
    """Events as ``(type code, field values...)`` tuples."""
    out = []
    for event in events:
        cls = type(event)
        out.append((_EVENT_CODE[cls], *[getattr(event, n) for n in _EVENT_FIELDS[cls]]))
    return out


def events_in(wire: list[tuple[Any, ...]]) -> list[Event]:
    """The events of `events_out` tuples."""
    types = _EVENT_TYPES
    return [types[t[0]](*t[1:]) for t in wire]
