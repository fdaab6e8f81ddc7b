"""Real, minimal distribution files for generated Python package indexes: wheels, sdists.

The bytes are deterministic (fixed timestamps, sorted members) so the same release gives
the same digests; a wheel installs (``pip install`` accepts it) and holds
``<dist>-<version>.dist-info/METADATA``; an sdist holds ``<dist>-<version>/PKG-INFO``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import re
import tarfile
import zipfile
from collections.abc import Iterable

__all__ = ["core_metadata", "dist_name", "make_sdist", "make_wheel", "wheel_filename"]

_EPOCH = (1980, 1, 1, 0, 0, 0)


def dist_name(name: str) -> str:
    """The name as it appears in file names (PEP 427/625): runs of ``-_.`` become ``_``."""
    return re.sub(r"[-_.]+", "_", name).lower()


def wheel_filename(name: str, version: str) -> str:
    """A pure-Python wheel's file name."""
    return f"{dist_name(name)}-{version}-py3-none-any.whl"


def core_metadata(name: str, version: str, requires: Iterable[str] = (), *,
                  metadata_version: str = "2.1", requires_python: str | None = None,
                  extras: Iterable[str] = (), dynamic: Iterable[str] = ()) -> bytes:
    """A core metadata file (METADATA / PKG-INFO)."""
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}",
             f"Summary: generated test project {name}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Dynamic: {d}" for d in dynamic]
    lines += [f"Provides-Extra: {e}" for e in extras]
    lines += [f"Requires-Dist: {r}" for r in requires]
    return ("\n".join(lines) + "\n\n").encode()


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def make_wheel(name: str, version: str, metadata: bytes, *, payload: bytes = b"") -> bytes:
    """A wheel of one module ``<dist>/__init__.py`` (plus ``payload`` as a data file)."""
    dist = dist_name(name)
    info = f"{dist}-{version}.dist-info"
    members = {
        f"{dist}/__init__.py": f"__version__ = {version!r}\n".encode(),
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: stagekit.testing\n"
                         b"Root-Is-Purelib: true\nTag: py3-none-any\n\n",
    }
    if payload:
        members[f"{dist}/payload.bin"] = payload
    record = [_record_line(p, d) for p, d in members.items()] + [f"{info}/RECORD,,"]
    members[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in members.items():
            zinfo = zipfile.ZipInfo(path, date_time=_EPOCH)
            zinfo.compress_type = zipfile.ZIP_DEFLATED
            zinfo.external_attr = 0o644 << 16
            zf.writestr(zinfo, data)
    return out.getvalue()


def make_sdist(name: str, version: str, pkg_info: bytes) -> bytes:
    """An sdist ``.tar.gz`` with PKG-INFO, pyproject.toml and the module."""
    top = f"{dist_name(name)}-{version}"
    members = {
        f"{top}/PKG-INFO": pkg_info,
        f"{top}/pyproject.toml": (f'[project]\nname = "{name}"\nversion = "{version}"\n'
                                  ).encode(),
        f"{top}/{dist_name(name)}/__init__.py": f"__version__ = {version!r}\n".encode(),
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path, data in members.items():
            ti = tarfile.TarInfo(path)
            ti.size, ti.mtime, ti.mode = len(data), 0, 0o644
            tf.addfile(ti, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)
