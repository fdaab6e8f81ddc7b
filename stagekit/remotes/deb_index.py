"""Reading a Debian archive's metadata: the (In)Release file and streamed Packages indexes.

`parse_release` unwraps a clearsigned InRelease (its signature is not checked) and keeps
what the remote needs: components, architectures and the ``SHA256`` entries.
`PackagesReader` decompresses a stored ``Packages``/``.gz``/``.xz`` file as a stream and
hands out stanzas chunk by chunk; each chunk is meant to be read in a worker thread
(``asyncio.to_thread(reader.read, n)``), so a 60,000-stanza index is never in memory
twice and never blocks the event loop for more than one chunk's worth of GIL time.
Lines, stanzas, the decompressed size and the number of stanzas are capped
(`stagekit.limits.Limits`): an xz bomb or a 6 GiB line stops at its cap with a clear error.
"""

from __future__ import annotations

import gzip
import itertools
import lzma
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from debian import deb822

from stagekit.errors import LimitExceededError, MetadataError
from stagekit.limits import DEFAULT_LIMITS, Limits
from stagekit.remotes.deb_stanzas import iter_stanzas

__all__ = ["VARIANTS", "PackagesReader", "Release", "parse_release", "release_payload"]

# Best first: the order apt prefers (smallest download).
VARIANTS = (".xz", ".gz", "")
STANZA_FIELDS = ["Package", "Version", "Architecture", "Filename", "Size", "SHA256"]
_BEGIN_SIGNED = "-----BEGIN PGP SIGNED MESSAGE-----"
_BEGIN_SIGNATURE = "-----BEGIN PGP SIGNATURE-----"


def release_payload(text: str, where: str) -> str:
    """The signed text of a clearsigned InRelease (dash-escaping undone), or ``text``."""
    if not text.lstrip().startswith(_BEGIN_SIGNED):
        return text
    lines = text.lstrip().splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines) if not line.strip()) + 1
        end = next(i for i, line in enumerate(lines) if line.rstrip() == _BEGIN_SIGNATURE)
    except StopIteration:
        raise MetadataError(f"{where}: a clearsigned message without body or signature",
                            url=where) from None
    body = lines[start:end]
    return "".join(line[2:] if line.startswith("- ") else line for line in body)


@dataclass(slots=True)
class Release:
    """What a Release file says about the indexes of a distribution."""

    components: list[str]
    architectures: list[str]
    sha256: dict[str, tuple[str, int]]  # path relative to dists/<dist>/ -> (hex, size)
    acquire_by_hash: bool = False
    arch_all_in_packages: bool = False
    fields: dict[str, str] = field(default_factory=dict)

    def variants(self, component: str, architecture: str) -> list[tuple[str, str, int]]:
        """``(path, sha256, size)`` of the listed Packages variants of an index, best first."""
        base = f"{component}/binary-{architecture}/Packages"
        return [(base + suffix, *self.sha256[base + suffix]) for suffix in VARIANTS
                if base + suffix in self.sha256]

    def default_architectures(self) -> list[str]:
        """The architectures to explore: ``all`` only where it has indexes of its own."""
        if self.arch_all_in_packages:
            return [a for a in self.architectures if a != "all"]
        return self.architectures


def parse_release(data: bytes, where: str) -> Release:
    """Parse a Release or InRelease file; `MetadataError` without usable SHA256 entries."""
    text = release_payload(data.decode("utf-8", errors="replace"), where)
    paragraph = deb822.Release(text)
    entries: dict[str, tuple[str, int]] = {}
    for entry in paragraph.get("SHA256") or []:
        try:
            name, sha256, size = entry["name"], entry["sha256"].lower(), int(entry["size"])
        except (KeyError, ValueError, TypeError):
            raise MetadataError(f"{where}: malformed SHA256 line {entry!r}", url=where,
                                field="SHA256") from None
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise MetadataError(f"{where}: SHA256 of {name} is not 64 hex digits", url=where,
                                field="SHA256")
        entries[name] = (sha256, size)
    if not entries:
        raise MetadataError(f"{where}: no SHA256 entries (not a Release file?)", url=where,
                            field="SHA256")
    no_support = paragraph.get("No-Support-for-Architecture-all", "")
    return Release(
        components=paragraph.get("Components", "").split(),
        architectures=paragraph.get("Architectures", "").split(),
        sha256=entries,
        acquire_by_hash=paragraph.get("Acquire-By-Hash", "").strip().lower() == "yes",
        arch_all_in_packages=no_support.strip() == "Packages",
        fields={k: v for k, v in paragraph.items() if k not in ("SHA256", "MD5Sum", "SHA1",
                                                              "SHA512")},
    )


def _open_decompressed(path: Path, name: str) -> IO[bytes]:
    if name.endswith(".xz"):
        return lzma.open(path)
    if name.endswith(".gz"):
        return gzip.open(path)  # type: ignore[return-value]
    return open(path, "rb")


class PackagesReader:
    """Stanzas of a stored Packages index, decompressed and parsed incrementally.

    ``name`` is the index's name in the archive (``.xz``/``.gz`` say how to decompress
    it: the store keeps files by digest, without their suffix).
    ``fields`` limits what is kept of each stanza (`iter_stanzas`: a plain dict per
    stanza, the field names spelled as in ``fields``); ``select`` is
    called with each stanza and returns whether to keep it. `read` is blocking: call
    it in a worker thread, never two at once. Use as a context manager.
    """

    def __init__(
        self,
        path: Path,
        name: str,
        where: str,
        *,
        fields: list[str] | None = STANZA_FIELDS,
        select: Callable[[Mapping[str, str]], bool] | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.where = where
        self.select = select
        self.limits = limits
        self.stanzas_read = 0
        self.bytes_read = 0
        self._file = _open_decompressed(Path(path), name)
        self._paragraphs: Iterator[Any] = iter_stanzas(self._lines(), fields)

    def _exceeded(self, what: str, setting: str) -> LimitExceededError:
        value = getattr(self.limits, setting)
        return LimitExceededError(
            f"{self.where}: {what} is larger than the limit of {value} bytes (Limits.{setting}"
            f"), after stanza {self.stanzas_read}", url=self.where, limit=setting, value=value)

    def _lines(self) -> Iterator[str]:
        """Decoded lines, each read with a bound: a line never has to fit whole in memory."""
        max_line, max_stanza = self.limits.line_bytes, self.limits.stanza_bytes
        max_total = self.limits.decompressed_bytes
        stanza = 0
        readline = self._file.readline
        while line := readline(max_line + 1):
            self.bytes_read += len(line)
            if len(line) > max_line and not line.endswith(b"\n"):
                raise self._exceeded("a line", "line_bytes")
            if self.bytes_read > max_total:
                raise self._exceeded("the decompressed index", "decompressed_bytes")
            if line.isspace():
                stanza = 0
            else:
                stanza += len(line)
                if stanza > max_stanza:
                    raise self._exceeded("a stanza", "stanza_bytes")
            yield line.decode("utf-8", errors="replace")

    def read(self, count: int) -> list[tuple[int, Mapping[str, str]]]:
        """Up to ``count`` selected stanzas with their 1-based number; empty at the end."""
        chosen: list[tuple[int, Mapping[str, str]]] = []
        try:
            while len(chosen) < count:
                batch = list(itertools.islice(self._paragraphs, count - len(chosen)))
                if not batch:
                    break
                for paragraph in batch:
                    self.stanzas_read += 1
                    if self.stanzas_read > self.limits.children:
                        raise LimitExceededError(
                            f"{self.where}: more stanzas than the limit of "
                            f"{self.limits.children} (Limits.children)", url=self.where,
                            limit="children", value=self.limits.children)
                    if self.select is None or self.select(paragraph):
                        chosen.append((self.stanzas_read, paragraph))
        except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
            raise MetadataError(f"{self.where}: cannot read the index after stanza "
                                f"{self.stanzas_read}: {exc}", url=self.where) from exc
        return chosen

    def close(self) -> None:
        """Close the decompressor and the file."""
        self._file.close()

    def __enter__(self) -> PackagesReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
