"""``stagekit runs`` and ``stagekit show``: read a store's catalog, never create or change it.

The catalog is opened read-only (`Catalog(..., readonly=True)`: no file is created next
to it) and a run is counted by SQL, so showing a run of 100,000 units costs a few
queries, not a DataFrame.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from stagekit.cli import EXIT_OK, EXIT_USAGE
from stagekit.cli.text import human_bytes, table

if TYPE_CHECKING:
    from stagekit.storage.catalog import Catalog

__all__ = ["runs_command", "show_command"]

CATALOG = "catalog.sqlite3"
MAX_FAILURES_SHOWN = 50


class MissingStore(Exception):
    """There is no readable store at the path given."""


def open_catalog(store: str) -> Catalog:
    """``store``'s catalog, read-only; `MissingStore` says what is missing, in one line."""
    from stagekit.errors import StoreError
    from stagekit.storage.catalog import Catalog

    folder = Path(store)
    if not folder.is_dir():
        raise MissingStore(f"no store at {folder} (no such folder)")
    if not (folder / CATALOG).is_file():
        raise MissingStore(f"no store at {folder} (it holds no {CATALOG})")
    try:
        return Catalog(folder / CATALOG, readonly=True)
    except StoreError as exc:
        raise MissingStore(f"cannot read the store at {folder}: {exc}") from None


def runs_command(args: argparse.Namespace) -> int:
    """``stagekit runs``: one line per recorded run."""
    from stagekit.errors import StoreError

    try:
        with open_catalog(args.store) as catalog:
            rows = catalog.runs()
    except (MissingStore, StoreError) as exc:
        print(f"stagekit runs: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not rows:
        print(f"no runs in {args.store}")
        return EXIT_OK
    print(table(["id", "remote", "status", "units", "started_at", "finished_at"],
                [[r["id"], r["remote"], r["status"], r["units"], r["started_at"],
                  r["finished_at"] or ""] for r in rows],
                right={"id", "units"}))
    return EXIT_OK


def show_command(args: argparse.Namespace) -> int:
    """``stagekit show RUN``: what a recorded run found, per depth, kind and status."""
    from stagekit.errors import StoreError

    try:
        catalog = open_catalog(args.store)
    except MissingStore as exc:
        print(f"stagekit show: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with catalog:
        try:
            found = catalog.run_summary(args.run, MAX_FAILURES_SHOWN)
        except StoreError as exc:
            print(f"stagekit show: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if found is None:
        print(f"stagekit show: no run {args.run} in {args.store} (see 'stagekit runs')",
              file=sys.stderr)
        return EXIT_USAGE
    run, totals, failures = found
    print(f"run {run['id']}: {run['remote']} {run['status']}, {run['units']} units")
    if not totals:
        print("no units")
        return EXIT_OK
    print(table(["depth", "kind", "status", "units", "bytes"],
                [[d if d is not None else "", kind, status, n, human_bytes(size)]
                 for d, kind, status, n, size in totals],
                right={"depth", "units", "bytes"}))
    failed = sum(n for _d, _k, status, n, _s in totals if status == "failed")
    if failed:
        print(f"\n{failed} failed:")
        for key, error in failures:
            print(f"  {key}: {error}")
        if failed > len(failures):
            print(f"  ... and {failed - len(failures)} more")
    return EXIT_OK
