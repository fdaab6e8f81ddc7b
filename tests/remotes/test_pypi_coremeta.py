"""Core metadata from .metadata files, wheels (whole or by ranges) and sdists, with bounds."""

from __future__ import annotations

import io
import random
import zipfile

import pytest

from stagekit.errors import MetadataError
from stagekit.remotes.pypi import coremeta
from stagekit.remotes.pypi.coremeta import (
    NeedBytes,
    SparseFile,
    metadata_from_sdist,
    metadata_from_wheel,
    parse_core_metadata,
)
from stagekit.testing.pypi_dists import core_metadata, make_sdist, make_wheel

META = core_metadata("demo", "1.0", ["a>=1", 'b; extra == "x"'], requires_python=">=3.9",
                     extras=["x"])


def test_metadata_file_gives_requirements_python_and_extras():
    meta = parse_core_metadata(META, "demo.metadata")
    assert (meta.name, meta.version, meta.requires_python) == ("demo", "1.0", ">=3.9")
    assert meta.requires_dist == ("a>=1", 'b; extra == "x"') and meta.provides_extra == ("x",)


@pytest.mark.parametrize("data", [b"", b"Name: x\n\n", b"\x00\x01binary"])
def test_something_that_is_not_metadata_is_refused(data):
    with pytest.raises(MetadataError, match=r"demo\.metadata"):
        parse_core_metadata(data, "demo.metadata")


def test_wheel_metadata_whole_and_by_ranges():
    wheel = make_wheel("demo", "1.0", META, payload=random.Random(0).randbytes(100_000))
    assert metadata_from_wheel(wheel, "w").requires_dist == ("a>=1", 'b; extra == "x"')
    sparse = SparseFile(len(wheel))
    sparse.add(len(wheel) - 1024, wheel[-1024:])
    requests = 0
    while True:
        try:
            sparse.seek(0)
            meta = metadata_from_wheel(sparse, "w")  # type: ignore[arg-type]
            break
        except NeedBytes as need:
            requests += 1
            sparse.add(need.start, wheel[need.start:need.start + 4096])
    assert meta.version == "1.0" and 1 <= requests <= 2
    assert sparse.known < len(wheel) // 10


def test_not_a_zip_and_a_zip_without_metadata_are_refused():
    with pytest.raises(MetadataError, match="not a wheel"):
        metadata_from_wheel(b"PK\x03\x04 not really", "w.whl")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("demo/__init__.py", "")
    with pytest.raises(MetadataError, match=r"exactly one \*.dist-info/METADATA, found 0"):
        metadata_from_wheel(out.getvalue(), "w.whl")


def test_a_metadata_member_that_expands_too_much_is_refused(monkeypatch):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("demo-1.0.dist-info/METADATA", META + b"X" * 3_000_000)
    with pytest.raises(MetadataError, match="expands"):
        metadata_from_wheel(out.getvalue(), "w.whl")
    monkeypatch.setattr(coremeta, "MAX_METADATA", 1000)
    with pytest.raises(MetadataError, match="over the limit"):
        metadata_from_wheel(out.getvalue(), "w.whl")


@pytest.mark.parametrize(("version", "dynamic", "known"), [
    ("2.2", (), ("a>=1",)), ("2.4", (), ("a>=1",)), ("2.1", (), None),
    ("2.2", ("Requires-Dist",), None)])
def test_sdist_dependencies_are_known_from_static_metadata_2_2(version, dynamic, known):
    pkg = core_metadata("demo", "1.0", ["a>=1"], metadata_version=version, dynamic=dynamic)
    meta = metadata_from_sdist(make_sdist("demo", "1.0", pkg), "demo-1.0.tar.gz", "s")
    assert meta.requires_dist == known


def test_sdist_that_is_not_a_tarball_is_refused():
    with pytest.raises(MetadataError, match="not an sdist"):
        metadata_from_sdist(b"nope", "demo-1.0.tar.gz", "s.tar.gz")
