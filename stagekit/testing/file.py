"""A flat "file" repository: random files listed by a Pulp-style ``PULP_MANIFEST``.

The manifest has one line per file, ``relative_path,sha256hex,size``, with paths relative
to the manifest's directory, as Pulp's file plugin publishes it.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable

from stagekit.testing.repo import Expected, ExpectedArtifact, ExpectedUnit, Repo, StaticFile

__all__ = ["MANIFEST_NAME", "FileRepo", "make_file_repo", "manifest_line"]

MANIFEST_NAME = "PULP_MANIFEST"


class FileRepo(Repo):
    """A generated file repository; `entry_path` is its manifest."""

    def __init__(self, files: dict[str, StaticFile], expected: Expected,
                 manifest_path: str) -> None:
        super().__init__(files, expected)
        self.manifest_path = manifest_path

    def entry_path(self) -> str:
        """The manifest's URL path."""
        return self.manifest_path

    def put(self, relative_path: str, body: bytes) -> None:
        """Add a file, or replace one's bytes, and rewrite the manifest and `expected`
        (to change the remote between two runs, e.g. to see `stagekit.diff` at work)."""
        prefix = self.manifest_path.rpartition("/")[0]
        url_path = f"{prefix}/{relative_path}" if prefix else relative_path
        self.files[url_path] = StaticFile(body)
        self.expected.units[f"file:{relative_path}"] = ExpectedUnit(
            key=f"file:{relative_path}", kind="file", depth=0, artifacts=[ExpectedArtifact(
                relative_path, hashlib.sha256(body).hexdigest(), len(body), url_path)])
        self._write_manifest()

    def remove(self, relative_path: str) -> None:
        """Take a file out of the repository and its manifest."""
        unit = self.expected.units.pop(f"file:{relative_path}")
        del self.files[unit.artifacts[0].url_path]
        self._write_manifest()

    def _write_manifest(self) -> None:
        lines = []
        for unit in self.expected.units.values():
            art = unit.artifacts[0]
            lines.append(f"{art.relative_path},{art.sha256},{art.size}\n")
        self.files[self.manifest_path] = StaticFile("".join(lines).encode(),
                                                    "text/plain; charset=utf-8")


def manifest_line(relative_path: str, body: bytes) -> str:
    """The manifest line of one file (no newline)."""
    return f"{relative_path},{hashlib.sha256(body).hexdigest()},{len(body)}"


def make_file_repo(n_files: int = 20, *, size: int | tuple[int, int] = 1024, seed: int = 0,
                   subdirs: int = 3, prefix: str = "",
                   bad_lines: Iterable[str] = ()) -> FileRepo:
    """Generate ``n_files`` random files and their manifest, the same for the same arguments.

    ``size`` is every file's size or an inclusive ``(min, max)`` range drawn per file.
    Files go round-robin into ``subdirs`` directories (none when 0). ``prefix`` is the
    manifest's directory in URL paths ("" or e.g. ``"repo/"``; a missing final slash is
    added). ``bad_lines`` are appended verbatim to the manifest after the good lines, to
    test parsers (e.g. ``"no-commas"``, ``"a,notahexdigest,3"``, ``"../escape,<sha>,1"``);
    they add no expected unit.
    """
    if n_files < 0 or subdirs < 0:
        raise ValueError("n_files and subdirs must be >= 0")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    low, high = size if isinstance(size, tuple) else (size, size)
    if not 0 <= low <= high:
        raise ValueError(f"bad file size {size!r}")
    rng = random.Random(seed)
    files: dict[str, StaticFile] = {}
    expected = Expected()
    lines: list[str] = []
    for i in range(n_files):
        directory = f"dir{i % subdirs}/" if subdirs else ""
        relative_path = f"{directory}file-{i:05d}.bin"
        body = rng.randbytes(rng.randint(low, high))
        url_path = prefix + relative_path
        files[url_path] = StaticFile(body)
        lines.append(manifest_line(relative_path, body))
        sha256 = hashlib.sha256(body).hexdigest()
        expected.add_unit(ExpectedUnit(
            key=f"file:{relative_path}", kind="file", depth=0,
            artifacts=[ExpectedArtifact(relative_path, sha256, len(body), url_path)]))
    lines.extend(bad_lines)
    manifest = "".join(line + "\n" for line in lines).encode()
    manifest_path = prefix + MANIFEST_NAME
    files[manifest_path] = StaticFile(manifest, "text/plain; charset=utf-8")
    return FileRepo(files, expected, manifest_path)
