"""The ``stagekit`` command: ``demo``, ``explore``, ``runs`` and ``show``.

Exit codes: 0 all fine; 1 some units failed or a filter matched nothing (they are
listed); 2 bad arguments or a remote that cannot be reached at all (one line says why);
130 interrupted (it says how far it got). A command imports what it needs when it runs,
so ``stagekit --help`` and ``stagekit runs`` start in a fraction of a second.
"""

from __future__ import annotations

import sys

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _quiet_library_warnings(verbose: bool) -> None:
    """Failures are listed once in the summary; the library's own warnings only with -v."""
    import logging

    logger = logging.getLogger("stagekit")
    if verbose:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    elif not logger.handlers:
        logger.addHandler(logging.NullHandler())  # no "last resort" printing on stderr


def main(argv: list[str] | None = None) -> int:
    """Run the ``stagekit`` command line; returns the exit code."""
    from stagekit.cli.parser import parse

    try:
        args = parse(argv)
    except SystemExit as exc:  # --help, or a bad argument (already reported in one line)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    _quiet_library_warnings(getattr(args, "verbose", False))
    if args.handler == "runs":
        from stagekit.cli.stored import runs_command as handler
    elif args.handler == "show":
        from stagekit.cli.stored import show_command as handler
    elif args.handler == "demo":
        from stagekit.cli.demo import demo_command as handler
    elif args.handler == "diff":
        from stagekit.cli.diff import diff_command as handler
    else:
        from stagekit.cli.commands import explore_command as handler
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
