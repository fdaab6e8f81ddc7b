"""Where ``--out`` writes, checked before a run so a bad path costs nothing.

``--out FOLDER`` writes ``results.csv``, ``graph.graphml`` and, with the ``draw`` extra,
``tree.svg`` into the folder (created if needed). ``--out FILE.csv`` or
``--out FILE.parquet`` writes that one table and nothing else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from stagekit.cli.parser import UsageError

__all__ = ["Output", "check_output"]

TABLE_SUFFIXES = (".csv", ".parquet")
# Suffixes that look like a file the user wanted but that --out cannot write.
_NOT_A_FOLDER = (".json", ".tsv", ".txt", ".xlsx", ".xls", ".graphml", ".svg", ".gz", ".zip")


@dataclass(frozen=True, slots=True)
class Output:
    """A checked ``--out``: either a folder or one table file."""

    path: Path
    is_table: bool

    @property
    def folder(self) -> Path:
        """The folder that receives the files."""
        return self.path.parent if self.is_table else self.path


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


def check_output(text: str) -> Output:
    """Check ``--out``; `UsageError` names it if it cannot be written (nothing is created)."""
    path = Path(text)
    suffix = path.suffix.lower()
    if suffix in _NOT_A_FOLDER:
        raise UsageError(f"--out {text!r}: give a folder, or a .csv or .parquet file")
    output = Output(path, suffix in TABLE_SUFFIXES)
    if output.is_table and path.is_dir():
        raise UsageError(f"--out {text!r} is a folder, not a {suffix} file")
    if not output.is_table and path.exists() and not path.is_dir():
        raise UsageError(f"--out {text!r} exists and is not a folder")
    if suffix == ".parquet":
        from stagekit.extras import has_extra

        if not has_extra("parquet"):
            raise UsageError(f"--out {text!r}: Parquet needs pyarrow: "
                             "pip install 'stagekit[parquet]' (or write a .csv)")
    if path.is_file() and not os.access(path, os.W_OK):
        raise UsageError(f"--out {text!r} is not writable")
    base = _nearest_existing(output.folder)
    if not base.is_dir():
        raise UsageError(f"--out {text!r}: {base} is not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise UsageError(f"--out {text!r}: {base} is not writable")
    return output
