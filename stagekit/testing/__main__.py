"""Serve a generated repository from a shell: ``python -m stagekit.testing serve KIND``.

Prints the base URL, then the entry URL, one line each, and serves until SIGINT or
SIGTERM. KIND is ``file``, ``maven``, ``oci`` or ``deb``.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import importlib
import inspect
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from stagekit.testing.faults import Faults, latency, status
from stagekit.testing.repo import Repo
from stagekit.testing.server import Server

GENERATORS = {
    "file": ("stagekit.testing.file", "make_file_repo"),
    "maven": ("stagekit.testing.maven", "make_maven_repo"),
    "oci": ("stagekit.testing.oci", "make_oci_repo"),
    "deb": ("stagekit.testing.debian", "make_deb_repo"),
    "pypi": ("stagekit.testing.pypi", "make_pypi_repo"),
}
# CLI flag -> generator keyword; a flag the generator does not take is reported, not passed.
FLAG_KEYWORDS = {"seed": "seed", "files": "n_files", "size": "size", "depth": "depth",
                 "fanout": "fanout", "prefix": "prefix"}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m stagekit.testing``."""
    parser = argparse.ArgumentParser(prog="python -m stagekit.testing",
                                     description="Fixture repositories for stagekit.")
    commands = parser.add_subparsers(dest="command", required=True)
    srv = commands.add_parser("serve", help="serve a generated repository until interrupted")
    srv.add_argument("kind", choices=sorted(GENERATORS))
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=0, help="0 picks a free port")
    srv.add_argument("--seed", type=int, default=0)
    srv.add_argument("--files", type=int, help="number of files (file repo)")
    srv.add_argument("--size", type=int, help="file size in bytes")
    srv.add_argument("--depth", type=int, help="depth of the generated graph")
    srv.add_argument("--fanout", type=int, help="children per node")
    srv.add_argument("--prefix", help="URL path prefix of the repository")
    srv.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                     help="extra generator keyword (value parsed as a Python literal)")
    srv.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    srv.add_argument("--error-rate", type=float, default=0.0,
                     help="probability of answering 503 (seeded by --seed)")
    return parser


def load_generator(kind: str) -> Callable[..., Repo]:
    """Import the generator of ``kind`` lazily; `ImportError` if it is not there."""
    module_name, function_name = GENERATORS[kind]
    module = importlib.import_module(module_name)
    generator = getattr(module, function_name, None)
    if generator is None:
        raise ImportError(f"{module_name} has no {function_name}")
    return generator


def generator_kwargs(generator: Callable[..., Repo], args: argparse.Namespace) -> dict[str, Any]:
    """Keywords for ``generator`` from the flags given; warns on stderr about ignored ones."""
    wanted: dict[str, Any] = {}
    for flag, keyword in FLAG_KEYWORDS.items():
        value = getattr(args, flag)
        if value is not None:
            wanted[keyword] = value
    for item in args.param:
        key, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"--param expects KEY=VALUE, got {item!r}")
        try:
            wanted[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            wanted[key] = raw
    params = inspect.signature(generator).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs = {k: v for k, v in wanted.items() if takes_any or k in params}
    ignored = sorted(set(wanted) - set(kwargs) - {"seed"})
    if ignored:
        print(f"warning: {args.kind} generator takes no {', '.join(ignored)}; ignored",
              file=sys.stderr)
    return kwargs


async def serve_until_signalled(repo: Repo, args: argparse.Namespace) -> None:
    """Serve ``repo``, print its URLs, and stop cleanly on SIGINT or SIGTERM."""
    faults = Faults(seed=args.seed)
    if args.latency:
        faults.add(latency(args.latency))
    if args.error_rate:
        faults.add(status(503, rate=args.error_rate))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Server(repo, faults=faults, host=args.host, port=args.port) as server:
            print(server.url, flush=True)
            print(server.url_for(repo.entry_path()), flush=True)
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        generator = load_generator(args.kind)
    except ImportError as exc:
        print(f"error: the {args.kind!r} fixture generator is not available: {exc}",
              file=sys.stderr)
        return 2
    repo = generator(**generator_kwargs(generator, args))
    asyncio.run(serve_until_signalled(repo, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
