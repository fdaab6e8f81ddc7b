"""The ``stagekit`` command: ``demo``, ``explore``, ``runs``, ``show`` and ``diff``.

Exit codes: 0 all fine; 1 some units failed (they are listed); 2 bad arguments or an
unreachable remote (one line says why); 130 interrupted (it says how far it got).
"""

from __future__ import annotations

import argparse
import sys

from stagekit.cli.commands import explore_command, runs_command, show_command
from stagekit.cli.demo import KINDS, demo_command
from stagekit.cli.diff import add_diff_parser

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stagekit", description="Explore and sync remote content repositories."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="explore a generated remote served on 127.0.0.1")
    demo.add_argument("--kind", choices=KINDS, default="maven", help="kind of remote (maven)")
    demo.add_argument("--out", help="folder for results.csv, graph.graphml, tree.svg")
    demo.add_argument("--seed", type=int, default=0, help="seed of the generated remote")
    demo.add_argument("--metadata-only", action="store_true", help="do not fetch payloads")
    demo.set_defaults(handler=demo_command)

    explore = commands.add_parser("explore", help="explore a remote")
    explore.add_argument("kind", choices=KINDS, help="kind of remote")
    explore.add_argument("url", help="the remote's URL (file: the PULP_MANIFEST)")
    explore.add_argument("roots", nargs="*", help="maven: g:a[:v]; oci: repository; "
                                                   "deb: package names to keep; "
                                                   "pypi: requirements")
    explore.add_argument("--dist", help="deb: distribution (e.g. stable)")
    explore.add_argument("--component", action="append", help="deb: component (repeatable)")
    explore.add_argument("--arch", action="append", help="deb: architecture (repeatable)")
    explore.add_argument("--tag", action="append", help="oci: tag (repeatable; default all)")
    explore.add_argument("--platform", action="append", help="oci: os/arch (repeatable)")
    explore.add_argument("--scope", action="append", help="maven: scope (repeatable)")
    explore.add_argument("--metadata-only", action="store_true", help="do not fetch payloads")
    explore.add_argument("--max-depth", type=int, help="do not explore deeper than this")
    explore.add_argument("--concurrency", type=int, help="most requests at once (100)")
    explore.add_argument("--store", default="stagekit-store", help="store folder")
    explore.add_argument("--out", help="folder, or a .csv/.parquet file for the unit table")
    explore.add_argument("--json", action="store_true", help="print a JSON summary")
    explore.set_defaults(handler=explore_command)

    runs = commands.add_parser("runs", help="list the runs recorded in a store")
    runs.add_argument("--store", default="stagekit-store", help="store folder")
    runs.set_defaults(handler=runs_command)

    show = commands.add_parser("show", help="summarise one recorded run")
    show.add_argument("run", type=int, help="run id (see 'stagekit runs')")
    show.add_argument("--store", default="stagekit-store", help="store folder")
    show.set_defaults(handler=show_command)
    add_diff_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``stagekit`` command line; returns the exit code."""
    args = _parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
