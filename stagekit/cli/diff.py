"""``stagekit diff A B``: what changed between two recorded runs of a store.

Prints one line per unit added, removed or changed (`stagekit.diff`), then a count per
change; ``--out`` also writes the table (``.csv`` or ``.parquet``). Exit codes: 0
nothing changed, 1 something changed, 2 bad arguments or an unknown run or store.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_diff_parser", "diff_command"]

EXIT_SAME, EXIT_CHANGED, EXIT_USAGE = 0, 1, 2


def add_diff_parser(commands: Any) -> None:
    """Add the ``diff`` subcommand to ``commands`` (an argparse subparsers action)."""
    parser = commands.add_parser("diff", help="what changed between two recorded runs")
    parser.add_argument("old", type=int, help="run id of the earlier run (see 'stagekit runs')")
    parser.add_argument("new", type=int, help="run id of the later run")
    parser.add_argument("--store", default="stagekit-store", help="store folder")
    parser.add_argument("--out", help="also write the table to this .csv or .parquet file")
    parser.set_defaults(handler=diff_command)


def diff_command(args: argparse.Namespace) -> int:
    """Print the diff of runs ``args.old`` and ``args.new``; 0 if none, 1 if any."""
    from stagekit.diff import diff
    from stagekit.errors import StagekitError

    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in (".csv", ".parquet"):
        print(f"stagekit: --out {out} must end in .csv or .parquet", file=sys.stderr)
        return EXIT_USAGE
    if not Path(args.store).is_dir():
        print(f"stagekit: no store at {args.store}", file=sys.stderr)
        return EXIT_USAGE
    try:
        frame = diff(args.old, args.new, store=args.store)
    except StagekitError as exc:
        print(f"stagekit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if frame.empty:
        print(f"runs {args.old} and {args.new}: nothing changed")
    else:
        shown = frame[["change", "key", "depth", "old_size", "new_size", "paths"]]
        print(shown.to_string(index=False, na_rep="-"))
        counts = frame["change"].value_counts()
        print(", ".join(f"{int(counts.get(c, 0))} {c}" for c in ("added", "removed", "changed")))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".csv":
            frame.to_csv(out, index=False)
        else:
            frame.to_parquet(out, index=False)
    return EXIT_SAME if frame.empty else EXIT_CHANGED
