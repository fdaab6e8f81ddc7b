"""A flat remote: a ``PULP_MANIFEST`` listing ``relative_path,sha256,size`` per line."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote, urljoin

from stagekit.context import RunContext
from stagekit.errors import MetadataError, UnsafePathError
from stagekit.models import Content, DeclarativeArtifact, DeclarativeContent, safe_relative_path
from stagekit.options import OnError
from stagekit.remote import HTTPRemote, check_remote_url
from stagekit.urls import redact_url

__all__ = ["FileRemote", "FileUnit", "parse_manifest_line"]

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True, slots=True)
class FileUnit(Content):
    """One file of a file remote, keyed by its relative path."""

    kind = "file"
    relative_path: str
    sha256: str
    size: int

    def natural_key(self) -> tuple[str]:
        """A file is its path."""
        return (self.relative_path,)


def parse_manifest_line(line: str) -> FileUnit:
    """Parse ``relative_path,sha256,size``; `ValueError` saying what is wrong otherwise."""
    fields = line.split(",")
    if len(fields) != 3:
        raise ValueError(f"expected 3 comma-separated fields, found {len(fields)}")
    path, sha256, size_text = (field.strip() for field in fields)
    safe_relative_path(path)
    if not _SHA256.match(sha256):
        raise ValueError(f"sha256 {sha256!r} is not 64 hex characters")
    try:
        size = int(size_text)
    except ValueError:
        raise ValueError(f"size {size_text!r} is not an integer") from None
    if size < 0:
        raise ValueError(f"size {size} is negative")
    return FileUnit(path, sha256.lower(), size)


class FileRemote(HTTPRemote):
    """Every line of the manifest is a root unit with one artifact; no futures at all."""

    def __init__(
        self, manifest_url: str, *, max_depth: int | None = None, on_error: OnError | None = None
    ) -> None:
        manifest_url = check_remote_url(manifest_url)
        super().__init__(manifest_url, max_depth=max_depth, on_error=on_error)
        self.manifest_url = manifest_url
        self.base_url = urljoin(manifest_url, ".")

    def describe(self) -> str:
        """The remote as shown in the catalog."""
        return f"file {redact_url(self.manifest_url)}"

    def has_children(self, dc: DeclarativeContent) -> bool:
        """Files are leaves."""
        return False

    async def roots(self, ctx: RunContext) -> AsyncIterator[DeclarativeContent]:
        """One unit per valid manifest line; bad lines are reported and skipped."""
        text = (await ctx.get_bytes(self.manifest_url)).decode("utf-8", errors="replace")
        where = redact_url(self.manifest_url)
        base = self.base_url
        # A checked relative path, quoted, has no scheme, query, fragment or dot
        # segment: below a folder URL it resolves by appending (urljoin parses both).
        append = base.endswith("/") and "?" not in base and "#" not in base
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                unit = parse_manifest_line(line)
            except (ValueError, UnsafePathError) as exc:
                error = MetadataError(f"{where} line {number}: {exc}", url=where, field="line")
                ctx.fail(error, key=f"file:{where}#line{number}", kind=FileUnit.kind)
                continue
            quoted = quote(unit.relative_path)
            artifact = DeclarativeArtifact(
                base + quoted if append else urljoin(base, quoted),
                unit.relative_path,
                digests={"sha256": unit.sha256},
                size=unit.size,
            )
            yield DeclarativeContent(unit, [artifact])
