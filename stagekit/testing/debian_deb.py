"""Binary package files for the fixture Debian archive: ``ar`` archives as dpkg writes them.

A full `.deb` holds ``debian-binary`` ("2.0"), ``control.tar.gz`` (``./control``) and
``data.tar.gz`` (one file of seeded random bytes, so the size is what was asked for);
`dpkg-deb` and `debian.debfile.DebFile` read it. `tiny_deb` is an ``ar`` archive with
only ``debian-binary`` and a name member: cheap enough for 60,000 packages.
"""

from __future__ import annotations

import gzip
import io
import tarfile

__all__ = ["ar_archive", "full_deb", "tiny_deb"]

_MTIME = 1704067200  # 2024-01-01T00:00:00Z, so bytes do not depend on the clock


def ar_archive(members: list[tuple[str, bytes]]) -> bytes:
    """A common-format ``ar`` archive (``!<arch>\\n``, 60-byte headers, even padding)."""
    out = [b"!<arch>\n"]
    for name, data in members:
        if len(name) > 16:
            raise ValueError(f"ar member name {name!r} is longer than 16 bytes")
        header = f"{name:<16}{_MTIME:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n"
        out.append(header.encode("ascii"))
        out.append(data)
        if len(data) % 2:
            out.append(b"\n")
    return b"".join(out)


def _tar_gz(files: list[tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        directory = tarfile.TarInfo("./")
        directory.type, directory.mode, directory.mtime = tarfile.DIRTYPE, 0o755, _MTIME
        tar.addfile(directory)
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, _MTIME
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)


def full_deb(name: str, control: str, payload: bytes) -> bytes:
    """A valid binary package: ``control`` is the text of ``./control``."""
    return ar_archive([
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", _tar_gz([("./control", control.encode())])),
        ("data.tar.gz", _tar_gz([(f"./usr/share/{name}/payload.bin", payload)])),
    ])


_TINY_PREFIX = ar_archive([("debian-binary", b"2.0\n")])


def tiny_deb(filename: str) -> bytes:
    """A minimal ``ar`` archive standing for a package when bodies are not wanted."""
    data = filename.encode()
    header = f"{'name':<16}{_MTIME:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n"
    return b"".join((_TINY_PREFIX, header.encode(), data, b"\n" if len(data) % 2 else b""))
