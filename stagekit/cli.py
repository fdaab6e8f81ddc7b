"""The ``stagekit`` command."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``stagekit`` command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog="stagekit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="explore a generated remote served on 127.0.0.1")
    args = parser.parse_args(argv)
    if args.command == "demo":
        print("stagekit demo: not yet (the CLI issue brings it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
