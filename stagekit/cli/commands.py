"""``stagekit explore``, ``runs`` and ``show``, and running a remote with a progress bar."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import pandas as pd
from tqdm import tqdm

from stagekit.cli.remotes import UsageError, build_remote
from stagekit.cli.report import print_summary, write_results
from stagekit.errors import StagekitError
from stagekit.remote import Remote
from stagekit.run import Run
from stagekit.storage import Store

__all__ = ["execute", "explore_command", "runs_command", "show_command"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


async def _follow(run: Run, bar: tqdm) -> None:
    """Refresh the bar ten times a second until the run ends."""
    while True:
        stats = run.stats
        finished = stats["units"] - stats["statuses"].get("discovered", 0)
        bar.total = max(stats["units"], 1)
        bar.n = finished
        bar.set_postfix_str(f"depth {max(stats['depths'] or [0])}, "
                            f"{stats['bytes'] / 1e6:.1f} MB, {stats['errors']} failed")
        bar.refresh()
        if run.done:
            return
        await asyncio.sleep(0.1)


async def _run_with_progress(run: Run, quiet: bool) -> None:
    bar = tqdm(total=1, unit="unit", desc="exploring", file=sys.stderr, disable=quiet,
               dynamic_ncols=True)
    run.start()
    follower = asyncio.create_task(_follow(run, bar))
    try:
        await run
    except asyncio.CancelledError:
        run.cancel()  # Ctrl-C: `await run` is shielded, so stop the run itself
        raise
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        if not quiet:
            await _follow(run, bar)
        bar.close()


def execute(remote: Remote, args: argparse.Namespace, store: Store | str,
            out: str | None, *, quiet: bool = False, as_json: bool = False) -> int:
    """Explore ``remote`` with a progress bar, print the summary, write ``out``."""
    run = Run(
        remote, store=store,
        policy="metadata-only" if args.metadata_only else "immediate",
        max_depth=getattr(args, "max_depth", None),
        concurrency=getattr(args, "concurrency", None) or None,
    )
    try:
        asyncio.run(_run_with_progress(run, quiet))
    except KeyboardInterrupt:
        stats = run.stats
        print(f"interrupted: {stats['units'] - stats['statuses'].get('discovered', 0)} of "
              f"{stats['units']} units done; what was saved stays in {run.store.path}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except StagekitError as exc:
        print(f"stagekit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print_summary(run, as_json=as_json)
    if out:
        for path in write_results(run, out):
            if not as_json:
                print(f"wrote {path}")
    return EXIT_FAILED if run.errors else EXIT_OK


def explore_command(args: argparse.Namespace) -> int:
    """``stagekit explore KIND URL [ROOT...]``."""
    try:
        remote = build_remote(args.kind, args.url, args.roots, args)
        store = Store(args.store)
    except (UsageError, ValueError, StagekitError) as exc:
        print(f"stagekit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return execute(remote, args, store, args.out, quiet=args.json, as_json=args.json)


def _open_store(path: str) -> Store | None:
    try:
        return Store(path)
    except StagekitError as exc:
        print(f"stagekit: {exc}", file=sys.stderr)
        return None


def runs_command(args: argparse.Namespace) -> int:
    """``stagekit runs``: one line per recorded run."""
    store = _open_store(args.store)
    if store is None:
        return EXIT_USAGE
    with store:
        rows: list[dict[str, Any]] = store.runs()
    if not rows:
        print(f"no runs in {args.store}")
        return EXIT_OK
    frame = pd.DataFrame(rows)
    columns = [c for c in ("id", "remote", "status", "started_at", "finished_at") if c in frame]
    print(frame[columns].to_string(index=False))
    return EXIT_OK


def show_command(args: argparse.Namespace) -> int:
    """``stagekit show RUN``: what a recorded run found, per depth, kind and status."""
    store = _open_store(args.store)
    if store is None:
        return EXIT_USAGE
    with store:
        try:
            records = store.load_run(args.run)
        except StagekitError as exc:
            print(f"stagekit: {exc}", file=sys.stderr)
            return EXIT_USAGE
    run = records.run
    print(f"run {run['id']}: {run.get('remote')} {run.get('status')}")
    units = pd.DataFrame(records.units)
    if units.empty:
        print("no units")
        return EXIT_OK
    table = units.groupby(["depth", "kind", "status"]).size().rename("units")
    print(table.to_string())
    failed = units[units["status"] == "failed"]
    for row in failed.itertuples():
        print(f"failed {row.key}: {row.error}")
    return EXIT_OK
