"""Reading a Debian archive's metadata: the (In)Release file and streamed Packages indexes.

`parse_release` unwraps a clearsigned InRelease (its signature is not checked) and keeps
what the remote needs: components, architectures and the ``SHA256`` entries.
`PackagesReader` decompresses a stored ``Packages``/``.gz``/``.xz`` file as a stream,
block by block (``read(n)`` on the decompressing file is bounded by ``n``), and parses
each block's whole lines at once (`StanzaParser`); it hands out stanzas chunk by chunk,
each chunk a few milliseconds of work. The remote reads chunks on the event loop itself,
yielding between them: a parsing thread beside the loop would hold the GIL whenever the
loop released it for a system call (a convoy of switch intervals), and the loop would lag
by hundreds of milliseconds. A 60,000-stanza index is never in memory whole.
Lines, stanzas, the decompressed size and the number of stanzas are capped
(`stagekit.limits.Limits`): an xz bomb or a 6 GiB line stops at its cap with a clear error.
"""

from __future__ import annotations

import gzip
import lzma
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from debian import deb822

from stagekit.errors import LimitExceededError, MetadataError
from stagekit.limits import DEFAULT_LIMITS, Limits
from stagekit.remotes.deb_stanzas import StanzaParser, StanzaTooLarge

__all__ = ["VARIANTS", "PackagesReader", "Release", "parse_release", "release_payload"]

# Best first: the order apt prefers (smallest download).
VARIANTS = (".xz", ".gz", "")
STANZA_FIELDS = ["Package", "Version", "Architecture", "Filename", "Size", "SHA256"]
# Decompressed bytes parsed at once, and blocks at most per `PackagesReader.read`: a read
# costs a few milliseconds, whatever the index and the filter.
_STEP = 64 * 1024
_BLOCKS_PER_READ = 4
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
    ``fields`` limits what is kept of each stanza (`StanzaParser`: a plain dict per
    stanza, the field names spelled as in ``fields``); ``select`` is
    called with each stanza and returns whether to keep it. Each `read` does a bounded
    amount of work (a few blocks of ``_STEP`` decompressed bytes at most), so it can be
    called on the event loop between other work; `finished` says when the index is done.
    Use as a context manager.
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
        self._parser = StanzaParser(fields, limits.stanza_bytes)
        self._pending = b""  # the start of a line the last block cut
        self._ready: deque[dict[str, str]] = deque()
        self._ended = False

    @property
    def finished(self) -> bool:
        """Whether every stanza of the index was read."""
        return self._ended and not self._ready

    def _exceeded(self, what: str, setting: str) -> LimitExceededError:
        value = getattr(self.limits, setting)
        return LimitExceededError(
            f"{self.where}: {what} is larger than the limit of {value} bytes (Limits.{setting}"
            f"), after stanza {self.stanzas_read}", url=self.where, limit=setting, value=value)

    def _fill(self) -> None:
        """Decompress the next block (at most ``_STEP`` bytes) and parse its whole lines."""
        max_line = self.limits.line_bytes
        block = self._file.read(_STEP)
        try:
            if not block:
                self._ended = True
                tail, self._pending = self._pending, b""
                if tail:
                    self._ready.extend(self._parser.feed(tail.decode("utf-8", "replace") + "\n"))
                self._ready.extend(self._parser.finish())
                return
            self.bytes_read += len(block)
            if self.bytes_read > self.limits.decompressed_bytes:
                raise self._exceeded("the decompressed index", "decompressed_bytes")
            data = self._pending + block if self._pending else block
            cut = data.rfind(b"\n") + 1
            self._pending = data[cut:]
            if len(self._pending) > max_line:
                raise self._exceeded("a line", "line_bytes")
            if not cut:
                return
            whole = data[:cut] if cut < len(data) else data
            if cut > max_line and max(map(len, whole.split(b"\n"))) > max_line:
                raise self._exceeded("a line", "line_bytes")
            self._ready.extend(self._parser.feed(whole.decode("utf-8", "replace")))
        except StanzaTooLarge:
            raise self._exceeded("a stanza", "stanza_bytes") from None

    def read(self, count: int) -> list[tuple[int, Mapping[str, str]]]:
        """The selected stanzas, with their 1-based number, among the next ``count`` (or
        fewer: one call decompresses at most ``_BLOCKS_PER_READ`` blocks)."""
        chosen: list[tuple[int, Mapping[str, str]]] = []
        ready, select, cap = self._ready, self.select, self.limits.children
        blocks = 0
        try:
            for _ in range(count):
                if not ready:
                    if self._ended or blocks == _BLOCKS_PER_READ:
                        break
                    blocks += 1
                    self._fill()
                    if not ready:
                        continue
                stanza = ready.popleft()
                self.stanzas_read += 1
                if self.stanzas_read > cap:
                    raise LimitExceededError(
                        f"{self.where}: more stanzas than the limit of {cap} "
                        f"(Limits.children)", url=self.where, limit="children", value=cap)
                if select is None or select(stanza):
                    chosen.append((self.stanzas_read, stanza))
        except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as exc:
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
