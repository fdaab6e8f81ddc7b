"""Saving a pipeline batch of `DeclarativeContent` straight to catalog rows.

`ContentSaver` saves every unit of a run. Going through `BaseCatalog.save_batch` builds a
dict per unit and per link, which the catalog then takes apart again into the tuples it
binds: about as much Python work as the SQL itself. `declared_rows` builds those tuples
directly, with the same checks and the same values (`tests/storage` compares the two
paths table by table), and `save_declared` runs the same upserts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

from stagekit.errors import StoreError
from stagekit.models import DeclarativeContent, plain_relative_path, safe_relative_path
from stagekit.storage._dialect import Db
from stagekit.storage._rows import natural_key_json, to_json, url_text
from stagekit.storage._statements import (
    UPSERT_ARTIFACT,
    UPSERT_CONTENT,
    UPSERT_LINK,
    UPSERT_RUN_ARTIFACT,
    UPSERT_RUN_UNIT,
    execute_rows,
)
from stagekit.storage._writes import COMPLETE_STATUSES, check_run, check_sha256, save_edges
from stagekit.urls import redact_url

__all__ = ["DeclaredRows", "content_fields", "declared_rows", "save_declared"]


_IDENTITY = itemgetter(0, 1)  # (kind, natural_key JSON) of a content row
_ID = itemgetter(2)  # the id the content upsert returns after (kind, natural_key JSON)

# Field names per dataclass, looked up once per class rather than once per unit.
_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    names = _FIELD_NAMES.get(cls, ())
    if names == ():
        names = (tuple(f.name for f in dataclasses.fields(cls))
                 if dataclasses.is_dataclass(cls) else None)
        _FIELD_NAMES[cls] = names
    return names


def content_fields(content: Any) -> dict[str, Any]:
    """A content unit's fields as a dict (a dataclass's fields, else its ``__dict__``)."""
    names = _field_names(type(content))
    if names is not None:
        return {name: getattr(content, name) for name in names}
    return dict(getattr(content, "__dict__", {}))


@dataclass(slots=True)
class DeclaredRows:
    """The bound values of one batch: what `save_declared` writes."""

    #: ``(kind, natural_key JSON, key, fields JSON, complete, run id)`` per unit: the
    #: content upsert's rows.
    contents: list[tuple[Any, ...]]
    #: ``(depth, status, size)`` per unit, in the order of ``contents``.
    units: list[tuple[Any, ...]]
    #: ``(sha256, size, digests JSON)`` of the stored artifacts, each once.
    artifacts: list[tuple[str, int, str]]
    #: ``(unit index, relative_path, url, sha256, size, status, tries, deferred, extra)``.
    links: list[tuple[Any, ...]]


def _declared_extra(sha256: Any) -> str:
    """The run record's ``extra`` of a link without a stored file but a declared sha256."""
    if type(sha256) is str and sha256.isascii() and sha256.isalnum():  # nothing to escape
        return '{"declared_sha256":"' + sha256 + '"}'
    return to_json({"declared_sha256": sha256})


def _safe_path(path: Any) -> str:
    """`safe_relative_path`, answered without it for the usual plain path."""
    if plain_relative_path(path):
        return path
    return safe_relative_path(str(path))  # raises the error naming what is wrong


def _artifact_row(artifact: Any) -> tuple[str, int, str]:
    sha256, size = check_sha256(artifact.sha256), artifact.size
    if not isinstance(size, int) or size < 0:
        raise StoreError(f"artifact sha256:{sha256} has no valid size ({size!r})")
    digests = dict(artifact.digests or {})
    digests.setdefault("sha256", sha256)
    return sha256, size, to_json(digests)


def declared_rows(batch: Sequence[DeclarativeContent], statuses: Sequence[str],
                  run_id: int) -> DeclaredRows:
    """The rows of ``batch``, whose units have ``statuses``, in run ``run_id``: the values
    `save_batch` binds for `stagekit.stages.content.catalog_rows` of the same batch."""
    contents: list[tuple[Any, ...]] = []
    units: list[tuple[Any, ...]] = []
    artifacts: dict[str, tuple[str, int, str]] = {}
    links: list[tuple[Any, ...]] = []
    for index, (dc, status) in enumerate(zip(batch, statuses, strict=True)):
        content = dc.content
        kind = content.kind
        if not kind:
            raise StoreError(f"unit {dc.key} has no kind")
        key = dc.key
        fields = content_fields(content)
        size = 0
        for da in dc.d_artifacts:
            artifact = da.artifact
            relative_path = _safe_path(da.relative_path)
            first: Any = da.urls[0]
            url = redact_url(first) if type(first) is str else url_text(first)
            if artifact is not None:
                size += artifact.size
                sha256 = artifact.sha256
                artifacts[sha256] = _artifact_row(artifact)  # the last one, as save_batch
                links.append((index, relative_path, url, sha256, artifact.size, da.status,
                              int(da.tries or 0), 1 if da.deferred else 0, "{}"))
            else:
                declared = da.digests.get("sha256")
                links.append((index, relative_path, url, None, da.size, da.status,
                              int(da.tries or 0), 1 if da.deferred else 0,
                              "{}" if declared is None else _declared_extra(declared)))
        contents.append((kind, natural_key_json(dc.identity[1], key), key,
                         to_json(fields) if fields else "{}",
                         1 if status is None or status in COMPLETE_STATUSES else 0, run_id))
        units.append((dc.depth, status, size))
    return DeclaredRows(contents, units, list(artifacts.values()), links)


def save_declared(db: Db, run_id: int, rows: DeclaredRows, edges: Sequence[Any] = ()
                  ) -> None:
    """Write ``rows`` in run ``run_id`` (inside a transaction): content, per-run units,
    artifacts, links and per-run artifact records, then ``edges``, as `save_batch` would."""
    check_run(db, run_id)
    if edges:
        save_edges(db, run_id, edges, run_checked=True)
    if not rows.contents:
        return
    # The rows below are put together in C loops (zip, map), not one Python step per unit.
    returned = execute_rows(db, UPSERT_CONTENT, rows.contents)
    ids = dict(zip(map(_IDENTITY, returned), map(_ID, returned), strict=True))
    cids = list(map(ids.__getitem__, map(_IDENTITY, rows.contents)))
    depths, statuses, sizes = zip(*rows.units, strict=True)
    execute_rows(db, UPSERT_RUN_UNIT, list(zip(
        repeat(run_id), cids, depths, statuses, repeat(None), sizes, repeat(None),
        repeat(None), repeat("{}"))))
    execute_rows(db, UPSERT_ARTIFACT, rows.artifacts)
    if not rows.links:
        return
    units, paths, urls, sha256s, link_sizes, link_statuses, tries, deferred, extras = zip(
        *rows.links, strict=True)
    link_cids = list(map(cids.__getitem__, units))
    execute_rows(db, UPSERT_LINK, list(zip(link_cids, paths, urls, sha256s, deferred,
                                            strict=True)))
    execute_rows(db, UPSERT_RUN_ARTIFACT, list(zip(
        repeat(run_id), link_cids, paths, urls, sha256s, link_sizes, link_statuses,
        repeat(None), tries, extras)))
