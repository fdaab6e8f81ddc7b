"""``stagekit explore``, and running a remote with progress for ``explore`` and ``demo``."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stagekit.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from stagekit.cli.output import Output, check_output
from stagekit.cli.parser import UsageError
from stagekit.errors import StagekitError

if TYPE_CHECKING:
    from stagekit.cli.progress import Progress

__all__ = ["execute", "explore_command"]


def _error(command: str, message: object) -> int:
    print(f"stagekit {command}: {message}", file=sys.stderr)
    return EXIT_USAGE


async def _run_with_progress(run: Any, progress: Progress | None) -> None:
    run.start()
    follower = asyncio.create_task(progress.follow()) if progress else None
    try:
        await run
    except asyncio.CancelledError:
        run.cancel()  # Ctrl-C: `await run` is shielded, so stop the run itself
        raise
    finally:
        if follower is not None:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)


def _discard(store: Any) -> None:
    """Remove a store this command created for a run that reached nothing."""
    store.close()
    shutil.rmtree(store.path, ignore_errors=True)


def execute(remote: Any, args: argparse.Namespace, store: Any, out: Output | None, *,
            command: str = "explore", quiet: bool = False, as_json: bool = False,
            new_store: bool = False) -> int:
    """Explore ``remote`` with progress, print the summary and warnings, write ``out``.

    ``new_store``: ``store`` was created for this run, so it is removed again if the
    remote could not be reached (a typo leaves nothing behind).
    """
    from stagekit.cli.cluster import connected
    from stagekit.run import Run

    try:
        with connected(getattr(args, "scheduler", None)) as client:
            run = Run(
                remote, store=store,
                policy="metadata-only" if args.metadata_only else "immediate",
                max_depth=getattr(args, "max_depth", None),
                on_error=getattr(args, "on_error", "continue"),
                concurrency=getattr(args, "concurrency", None),
                cluster=client,
            )
            return _execute(run, args, out, command=command, quiet=quiet, as_json=as_json,
                            new_store=new_store)
    except StagekitError as exc:  # no scheduler there, or the [dask] extra is missing
        if new_store:
            _discard(store)
        return _error(command, exc)


def _execute(run: Any, args: argparse.Namespace, out: Output | None, *, command: str,
             quiet: bool, as_json: bool, new_store: bool) -> int:
    from stagekit.cli.outcome import judge
    from stagekit.cli.progress import Progress
    from stagekit.cli.report import print_summary, summary, write_results

    progress = None if quiet else Progress(run, sys.stderr)

    def stop_progress(final: bool) -> None:
        """End the progress display; no last line when the run reached nothing (the
        one-line error says it all)."""
        if progress is not None:
            progress.close(final=final)

    stopped: Exception | None = None
    try:
        asyncio.run(_run_with_progress(run, progress))
    except KeyboardInterrupt:
        stop_progress(final=True)
        stats = run.stats
        done = stats["units"] - stats["statuses"].get("discovered", 0)
        print(f"stagekit {command}: interrupted: discovery was still running; "
              f"{stats['units']} units found so far, {done} units done; what was saved "
              f"stays in {run.store.path}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (StagekitError, OSError) as exc:  # OSError: the store's disk (full, read-only)
        if not run.records.units:  # the entry point failed: nothing was reached
            stop_progress(final=False)
            if new_store:
                _discard(run.store)
            return _error(command, f"cannot explore: {exc}")
        stopped = exc  # mid-run: report what was found, and why it stopped
    outcome = judge(run, args) if stopped is None else None
    unreachable = outcome is not None and outcome.unreachable
    stop_progress(final=not unreachable)
    if outcome is not None and outcome.unreachable:
        if new_store:
            _discard(run.store)
        return _error(command, outcome.unreachable)
    print_summary(summary(run), as_json=as_json)
    warnings = outcome.warnings if outcome is not None else []
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if stopped is not None:
        print(f"stagekit {command}: the run stopped: {stopped}", file=sys.stderr)
    if out is not None:
        try:
            written = write_results(run, out)
        except (OSError, StagekitError) as exc:
            return _error(command, f"cannot write --out {out.path}: {exc}")
        if not as_json:
            for path in written:
                print(f"wrote {path}")
            from stagekit.extras import has_extra

            if not out.is_table and not has_extra("draw"):
                print("(no tree.svg: drawing needs pip install 'stagekit[draw]')")
    return EXIT_FAILED if run.errors or warnings or stopped else EXIT_OK


def explore_command(args: argparse.Namespace) -> int:
    """``stagekit explore KIND URL [ROOT...]``: check everything, then open the store."""
    try:
        out = check_output(args.out) if args.out else None
    except UsageError as exc:
        return _error("explore", exc)
    from stagekit.cli.remotes import build_remote
    from stagekit.storage import Store

    try:
        remote = build_remote(args.kind, args.url, args.roots, args)
    except (UsageError, ValueError, StagekitError) as exc:
        return _error("explore", exc)
    store_path = Path(args.store)
    if store_path.exists() and not store_path.is_dir():
        return _error("explore", f"--store {args.store!r} exists and is not a folder")
    new_store = not store_path.exists()
    try:
        store = Store(store_path)
    except (StagekitError, OSError) as exc:
        return _error("explore", exc)
    try:
        return execute(remote, args, store, out, quiet=args.json, as_json=args.json,
                       new_store=new_store)
    finally:
        store.close()
