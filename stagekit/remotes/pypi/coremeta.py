"""Core metadata of a release (PEP 566/643): from a ``.metadata`` file, a wheel or an sdist.

Everything here reads untrusted bytes with bounds: a metadata file is at most
`MAX_METADATA` bytes, a zip member is read only when its declared and actual sizes are
under the cap and its compression ratio is sane, and an sdist's tar stream is read for at
most `MAX_SDIST_SCAN` decompressed bytes and `MAX_MEMBERS` members.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from dataclasses import dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version

from stagekit.errors import MetadataError

__all__ = [
    "MAX_METADATA",
    "CoreMetadata",
    "NeedBytes",
    "SparseFile",
    "metadata_from_sdist",
    "metadata_from_wheel",
    "parse_core_metadata",
    "wheel_metadata_name",
]

MAX_METADATA = 4 * 1024 * 1024
MAX_RATIO = 200  # deflate of real METADATA text stays far below this
MAX_MEMBERS = 20_000
MAX_SDIST_SCAN = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CoreMetadata:
    """What discovery needs from a release's core metadata.

    ``requires_dist`` is None when the dependencies are unknown (an sdist whose
    Requires-Dist is dynamic or older than Metadata 2.2), else the requirement strings.
    """

    name: str
    version: str
    metadata_version: str
    requires_dist: tuple[str, ...] | None
    requires_python: str | None = None
    provides_extra: tuple[str, ...] = ()
    dynamic: tuple[str, ...] = field(default_factory=tuple)


def parse_core_metadata(data: bytes, where: str, *, from_sdist: bool = False) -> CoreMetadata:
    """Parse RFC 822-style core metadata; ``where`` names the file in errors.

    ``from_sdist``: PKG-INFO only states the dependencies from Metadata 2.2 on, and only
    when Requires-Dist is not listed as Dynamic (PEP 643); otherwise they are unknown.
    """
    if len(data) > MAX_METADATA:
        raise MetadataError(f"{where}: metadata of {len(data)} bytes is over the limit of "
                            f"{MAX_METADATA}", url=where, field="size")
    if b"\x00" in data[:1024]:
        raise MetadataError(f"{where}: not a core metadata file (binary data)", url=where)
    fields = _headers(data)

    def first(key: str) -> str:
        values = fields.get(key)
        return values[0] if values else ""

    metadata_version, name, version = first("metadata-version"), first("name"), first("version")
    if not metadata_version or not name or not version:
        missing = [k for k, v in (("Metadata-Version", metadata_version), ("Name", name),
                                  ("Version", version)) if not v]
        raise MetadataError(f"{where}: not a core metadata file (no {', '.join(missing)})",
                            url=where, field=missing[0])
    requires = tuple(fields.get("requires-dist", ()))
    dynamic = tuple(d.lower() for d in fields.get("dynamic", ()))
    known: tuple[str, ...] | None = requires
    if from_sdist:
        try:
            static_ok = Version(metadata_version) >= Version("2.2")
        except InvalidVersion:
            static_ok = False
        if not static_ok or "requires-dist" in dynamic:
            known = None
    return CoreMetadata(name, version, metadata_version, known,
                        first("requires-python") or None,
                        tuple(fields.get("provides-extra", ())), dynamic)


def _headers(data: bytes) -> dict[str, list[str]]:
    """The RFC 822 header block of ``data`` (up to the first blank line), by lower-case key.

    What the core metadata spec needs and no more (the email package costs ten times as
    much per file): ``Key: value`` lines, continuation lines folded in, undecodable bytes
    replaced.
    """
    text = data.decode("utf-8", "replace")
    head = text.split("\n\n", 1)[0].split("\r\n\r\n", 1)[0]
    fields: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in head.splitlines():
        if line[:1] in (" ", "\t"):
            if last:
                last[-1] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            last = None
            continue
        last = fields.setdefault(key.strip().lower(), [])
        last.append(value.strip())
    return fields


def wheel_metadata_name(names: list[str], where: str) -> str:
    """The one top-level ``*.dist-info/METADATA`` member among ``names``."""
    found = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
    if len(found) != 1:
        raise MetadataError(f"{where}: a wheel needs exactly one *.dist-info/METADATA, found "
                            f"{len(found)}", url=where, field="METADATA")
    return found[0]


def _read_member(archive: zipfile.ZipFile, member: str, where: str) -> bytes:
    info = archive.getinfo(member)
    if info.file_size > MAX_METADATA:
        raise MetadataError(f"{where}: {member} declares {info.file_size} bytes, over the limit "
                            f"of {MAX_METADATA}", url=where, field=member)
    if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
        raise MetadataError(f"{where}: {member} expands {info.file_size // info.compress_size}"
                            f"-fold, refused", url=where, field=member)
    with archive.open(info) as fh:
        data = fh.read(MAX_METADATA + 1)
    if len(data) > MAX_METADATA:
        raise MetadataError(f"{where}: {member} is over the limit of {MAX_METADATA} bytes",
                            url=where, field=member)
    return data


def metadata_from_wheel(data: bytes | io.IOBase, where: str) -> CoreMetadata:
    """The core metadata inside a wheel (bytes or a seekable file-like object).

    Raises `MetadataError` naming ``where`` when it is not a zip or has no METADATA.
    `NeedBytes` from a `SparseFile` passes through (the caller fetches that range).
    """
    source = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    try:
        with zipfile.ZipFile(source) as archive:
            member = wheel_metadata_name(archive.namelist(), where)
            body = _read_member(archive, member, where)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise MetadataError(f"{where}: not a wheel (zip): {exc}", url=where,
                            field="zip") from None
    return parse_core_metadata(body, f"{where}!{member}")


class _Limited(io.RawIOBase):
    """A reader that refuses to decompress more than ``limit`` bytes in total."""

    def __init__(self, raw: Any, limit: int, where: str) -> None:
        self._raw, self._left, self._where = raw, limit, where

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            raise MetadataError(f"{self._where}: more than {MAX_SDIST_SCAN} bytes before "
                                f"PKG-INFO, refused", url=self._where, field="PKG-INFO")
        data = self._raw.read(min(len(buffer), self._left))
        n = len(data)
        buffer[:n] = data
        self._left -= n
        return n


def metadata_from_sdist(data: bytes, filename: str, where: str) -> CoreMetadata:
    """The PKG-INFO of an sdist (``.tar.gz`` or ``.zip``), with unknown deps before 2.2."""
    if filename.endswith(".zip"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = [n for n in archive.namelist()
                         if n.count("/") == 1 and n.endswith("/PKG-INFO")]
                if len(names) != 1:
                    raise MetadataError(f"{where}: no top-level */PKG-INFO", url=where,
                                        field="PKG-INFO")
                body = _read_member(archive, names[0], where)
        except (zipfile.BadZipFile, EOFError, ValueError) as exc:
            raise MetadataError(f"{where}: not an sdist zip: {exc}", url=where) from None
        return parse_core_metadata(body, f"{where}!{names[0]}", from_sdist=True)
    try:
        stream = io.BufferedReader(_Limited(gzip.GzipFile(fileobj=io.BytesIO(data)),
                                            MAX_SDIST_SCAN, where))
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for count, member in enumerate(archive):
                if count > MAX_MEMBERS:
                    break
                if member.isfile() and member.name.count("/") == 1 \
                        and member.name.endswith("/PKG-INFO"):
                    if member.size > MAX_METADATA:
                        raise MetadataError(f"{where}: PKG-INFO of {member.size} bytes is over "
                                            f"the limit", url=where, field="PKG-INFO")
                    fh = archive.extractfile(member)
                    assert fh is not None
                    return parse_core_metadata(fh.read(), f"{where}!{member.name}",
                                               from_sdist=True)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise MetadataError(f"{where}: not an sdist tarball: {exc}", url=where) from None
    raise MetadataError(f"{where}: no top-level */PKG-INFO", url=where, field="PKG-INFO")


class NeedBytes(Exception):
    """A `SparseFile` read touched bytes not fetched yet: ``[start, end)``."""

    def __init__(self, start: int, end: int) -> None:
        super().__init__(start, end)
        self.start, self.end = start, end


class SparseFile(io.RawIOBase):
    """A seekable view of a remote file of ``size`` bytes of which some spans are known.

    Reading an unknown span raises `NeedBytes`; the caller fetches it (a Range request),
    `add`s it and retries, so a wheel's METADATA costs its central directory and one member.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._pos = 0
        self._spans: list[tuple[int, bytes]] = []

    def add(self, start: int, data: bytes) -> None:
        """Record that ``data`` sits at ``start``."""
        self._spans.append((start, data))

    @property
    def known(self) -> int:
        """Bytes known so far (the caller bounds it)."""
        return sum(len(d) for _, d in self._spans)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        end = self.size if n is None or n < 0 else min(self.size, self._pos + n)
        if self._pos >= end:
            return b""
        for start, data in self._spans:
            if start <= self._pos and end <= start + len(data):
                out = data[self._pos - start:end - start]
                self._pos = end
                return out
        raise NeedBytes(self._pos, end)

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

