"""``stagekit runs`` and ``stagekit show``: read a store's catalog, never create or change it.

The catalog is opened read-only by SQLite and counted by SQL, so showing a run of
100,000 units costs a few queries, not a DataFrame.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from stagekit.cli import EXIT_OK, EXIT_USAGE
from stagekit.cli.text import human_bytes, table

__all__ = ["runs_command", "show_command"]

CATALOG = "catalog.sqlite3"
MAX_FAILURES_SHOWN = 50


class MissingStore(Exception):
    """There is no readable store at the path given."""


@contextmanager
def read_only_catalog(store: str) -> Iterator[sqlite3.Connection]:
    """A read-only connection to ``store``'s catalog; `MissingStore` names what is missing."""
    folder = Path(store)
    path = folder / CATALOG
    if not folder.is_dir():
        raise MissingStore(f"no store at {folder} (no such folder)")
    if not path.is_file():
        raise MissingStore(f"no store at {folder} (it holds no {CATALOG})")
    try:
        conn = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True, timeout=30.0)
    except sqlite3.Error as exc:
        raise MissingStore(f"cannot read the store at {folder}: {exc}") from None
    with closing(conn):
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise MissingStore(f"cannot read the store at {folder}: {exc}") from None
        if version == 0:
            raise MissingStore(f"no store at {folder} ({CATALOG} is not a stagekit catalog)")
        yield conn


def runs_command(args: argparse.Namespace) -> int:
    """``stagekit runs``: one line per recorded run."""
    from stagekit.storage import _reads

    try:
        with read_only_catalog(args.store) as conn:
            rows = _reads.runs(conn)
    except (MissingStore, sqlite3.Error) as exc:
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
    from stagekit.storage import _reads

    try:
        with read_only_catalog(args.store) as conn:
            run = _reads.run(conn, args.run, Path(args.store))
            totals = _reads.run_totals(conn, args.run)
            failures = _reads.run_failures(conn, args.run, MAX_FAILURES_SHOWN)
    except StoreError:
        print(f"stagekit show: no run {args.run} in {args.store} (see 'stagekit runs')",
              file=sys.stderr)
        return EXIT_USAGE
    except (MissingStore, sqlite3.Error) as exc:
        print(f"stagekit show: {exc}", file=sys.stderr)
        return EXIT_USAGE
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
