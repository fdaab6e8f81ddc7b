"""`BaseCatalog.save_declared` (ContentSaver's path) writes exactly what `save_batch` of
`catalog_rows` writes, on every backend."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stagekit.errors import StoreError, UnsafePathError
from stagekit.models import Artifact, Content, DeclarativeArtifact, DeclarativeContent
from stagekit.stages.content import catalog_rows, unit_status
from stagekit.storage._rows import natural_key_json
from stagekit.storage.catalog import BaseCatalog
from tests.backends import Backend

_databases = itertools.count(1)
SHA_A = "a" * 64
SHA_B = "b" * 64
SHA_C = "c" * 64
TABLES = {
    "content": "kind, natural_key, key, fields, complete, first_run",
    "run_units": "run_id, content_id, depth, status, error, size, started_at, finished_at, extra",
    "artifacts": "sha256, size, digests",
    "content_artifacts": "content_id, relative_path, url, sha256, deferred",
    "run_artifacts": "run_id, content_id, relative_path, url, sha256, size, status, error,"
                     " tries, extra",
}


@dataclass(frozen=True)
class Pkg(Content):
    kind = "test.pkg"
    name: str
    version: int = 1
    homepage: str = ""

    def natural_key(self) -> tuple[Any, ...]:
        return (self.name, self.version)


class Plain(Content):
    """A content class that is no dataclass: its fields come from ``__dict__``."""

    kind = "test.plain"

    def __init__(self, name: str) -> None:
        self.name = name

    def natural_key(self) -> tuple[str]:
        return (self.name,)


def _stored(da: DeclarativeArtifact, sha256: str, size: int, status: str,
            digests: dict[str, str] | None = None) -> DeclarativeArtifact:
    da.artifact = Artifact(sha256, size, {"sha256": sha256, **(digests or {})}, Path("/x"))
    da.status = status
    return da


def _batch() -> list[DeclarativeContent]:
    """Units covering every kind of row: deferred with and without a declared digest,
    stored, shared, several artifacts, none, mirrors, credentials in URLs and fields."""
    deferred = DeclarativeArtifact("https://user:secret@repo.test/a.bin?token=t", "blobs/a.bin",
                                   digests={"sha256": SHA_A}, size=10, deferred=True)
    deferred.status = "deferred"
    undeclared = DeclarativeArtifact("https://repo.test/b.bin", "b.bin", deferred=True)
    undeclared.status = "deferred"
    downloaded = _stored(DeclarativeArtifact(["https://m1.test/c", "https://m2.test/c"], "c",
                                             digests={"sha256": SHA_B}), SHA_B, 20,
                         "downloaded", {"sha1": "1" * 40})
    downloaded.tries = 2
    shared = _stored(DeclarativeArtifact("https://repo.test/c2", "c2"), SHA_B, 20, "shared")
    existing = _stored(DeclarativeArtifact("file:///srv/d", "d/e/f"), SHA_C, 0, "existing")
    later = DeclarativeArtifact("https://repo.test/jar", "lib.jar", deferred=True,
                                digests={"sha256": SHA_C, "md5": "d" * 32})
    later.status = "deferred"
    units = [
        DeclarativeContent(Pkg("a", homepage="https://u:p@home.test/"), [deferred]),
        DeclarativeContent(Pkg("b", 2), [undeclared]),
        DeclarativeContent(Pkg("c"), [downloaded, later]),
        DeclarativeContent(Plain("d"), [shared, existing]),
        DeclarativeContent(Plain("e")),
    ]
    for depth, dc in enumerate(units):
        dc.depth = depth
    return units


def _dump(catalog: BaseCatalog) -> dict[str, list[tuple[Any, ...]]]:
    with catalog._snapshot("dumping") as db:
        return {table: sorted(tuple(row) for row in db.execute(f"SELECT {columns} FROM {table}"))
                for table, columns in TABLES.items()}


def _second(backend: Backend, request: pytest.FixtureRequest) -> Backend:
    """Another empty catalog of the same backend."""
    if backend.spec is None:
        return backend
    server = request.getfixturevalue("pg_server")
    return Backend(backend.name, server.create_database(f"declared_{next(_databases)}"))


def test_save_declared_writes_what_save_batch_writes(
    backend: Backend, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    dumps = []
    backends = (backend, _second(backend, request))
    for (name, save), where in zip((("batch", "save_batch"), ("declared", "save_declared")),
                                   backends, strict=True):
        (tmp_path / name).mkdir()
        with where.catalog(tmp_path / name) as catalog:
            first = catalog.start_run("https://repo.test/", {})
            second = catalog.start_run("https://repo.test/", {})
            for run_id in (first, second):  # the second saves over the first's content
                batch = _batch()
                if save == "save_batch":
                    catalog.save_batch(run_id, **catalog_rows(batch))
                else:
                    catalog.save_declared(run_id, batch, [unit_status(dc) for dc in batch])
            dumps.append(_dump(catalog))
            records = catalog.load_run(second)
            dumps.append({"units": sorted(map(repr, records.units)),  # type: ignore[dict-item]
                          "artifacts": sorted(map(repr, records.artifacts))})
    assert dumps[0] == dumps[2]
    assert dumps[1] == dumps[3]
    assert len(dumps[0]["run_artifacts"]) == 2 * 6
    assert "secret" not in repr(dumps[2]) and "u:p@" not in repr(dumps[2])


def test_save_declared_refuses_what_save_batch_refuses(backend: Backend, tmp_path: Path) -> None:
    with backend.catalog(tmp_path) as catalog:
        run_id = catalog.start_run("r", {})
        batch = _batch()
        batch[0].d_artifacts[0].relative_path = "../escape"
        with pytest.raises(UnsafePathError, match="escape"):
            catalog.save_declared(run_id, batch, [unit_status(dc) for dc in batch])
        batch = _batch()
        batch[2].d_artifacts[0].artifact = Artifact("nothex", 1, {}, Path("/x"))
        with pytest.raises(StoreError, match="nothex"):
            catalog.save_declared(run_id, batch, [unit_status(dc) for dc in batch])
        with pytest.raises(StoreError, match="no run with id 99"):
            catalog.save_declared(99, _batch(), ["deferred"] * 5)
        assert catalog.load_run(run_id).units == []


def test_the_quick_path_check_agrees_with_safe_relative_path() -> None:
    from stagekit.models import safe_relative_path
    from stagekit.storage._declared import _safe_path

    alphabet = ["a", "/", ".", "\\", "\x00", ":", "C"]
    for length in range(1, 6):
        for parts in itertools.product(alphabet, repeat=length):
            path = "".join(parts)
            try:
                expected: object = safe_relative_path(path)
            except UnsafePathError as exc:
                expected = str(exc)
            try:
                got: object = _safe_path(path)
            except UnsafePathError as exc:
                got = str(exc)
            assert got == expected, path


@pytest.mark.parametrize("natural_key", [
    (), ("a",), ("a", "b"), ("é", "日本"), ('q"uote',), ("back\\slash",), ("tab\there",),
    ("nul\x00",), ("del\x7f",), ("line\u2028sep",), ("a", 1), ("a", None, 2.5, True),
])
def test_natural_key_json_is_the_encoders_text(natural_key: tuple[Any, ...]) -> None:
    # Plain strings are written out without the encoder: the text must be the same,
    # since it is half of content's unique key.
    expected = json.dumps(list(natural_key), separators=(",", ":"), ensure_ascii=False)
    assert natural_key_json(natural_key, "unit") == expected
