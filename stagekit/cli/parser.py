"""The ``stagekit`` argument parser: cheap to build, and strict about values.

Only the standard library is imported here, so ``stagekit --help`` and a rejected
argument cost no more than Python's start-up. Every value that can be checked without the
network is checked here, before anything is created on disk.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import NoReturn
from urllib.parse import urlsplit

from stagekit.cli.diff import add_diff_parser
from stagekit.urls import redact_url

__all__ = ["KINDS", "build_parser", "check_roots", "check_url"]

KINDS = ("maven", "file", "oci", "deb", "pypi")
URL_SCHEMES = ("http", "https", "file")
MAVEN_SCOPES = ("compile", "runtime", "provided", "test", "system")
#: `stagekit.remotes.maven.checksums.CHECKSUM_MODES`, spelled here so --help imports no remote.
MAVEN_CHECKSUMS = ("header-or-sidecar", "sidecar", "ignore")

_OCI_REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
                             r"(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*")
_OCI_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_PLATFORM = re.compile(r"[a-z0-9_.-]+/[a-z0-9_.-]+(?:/[a-z0-9_.-]+)?")
_DEB_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_DEB_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*(?:/[A-Za-z0-9][A-Za-z0-9_.+-]*)*")
_MAVEN_PART = re.compile(r"[^\s:/\\]+")


class UsageError(ValueError):
    """A command-line value that cannot work; the message names it."""


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line (no usage block) and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _int_at_least(minimum: int, what: str) -> type[int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            message = f"must be a whole number, got {text!r}"
            raise argparse.ArgumentTypeError(message) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse  # type: ignore[return-value]


def check_url(text: str) -> str:
    """``text`` if it is an http(s) or file URL; `UsageError` naming it otherwise."""
    shown = redact_url(text)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if not scheme and text.startswith(("/", ".")):
        raise UsageError(f"URL {shown!r} has no scheme: a local file is file:///absolute/path")
    if not scheme or (scheme not in URL_SCHEMES and "." in scheme) or (
            scheme not in URL_SCHEMES and parts.path[:1].isdigit()):
        raise UsageError(f"URL {shown!r} has no scheme: did you mean http://{shown} ?")
    if scheme not in URL_SCHEMES:
        raise UsageError(f"URL {shown!r}: scheme {scheme!r} is not supported "
                         f"(use http://, https:// or file://)")
    if scheme in ("http", "https"):
        try:
            port = parts.port
        except ValueError:
            raise UsageError(f"URL {shown!r} has a bad port") from None
        if not parts.hostname:
            raise UsageError(f"URL {shown!r} names no host")
        del port
    elif parts.netloc not in ("", "localhost") or not parts.path:
        raise UsageError(f"URL {shown!r}: a file URL is file:///absolute/path")
    return text


def check_roots(kind: str, roots: list[str], args: argparse.Namespace) -> None:
    """Check the ROOTs and kind-specific options of ``explore``; `UsageError` names the bad one."""
    if kind == "maven":
        if not roots:
            raise UsageError("maven needs at least one ROOT (group:artifact[:version])")
        for root in roots:
            parts = root.split(":")
            if len(parts) not in (2, 3) or not all(_MAVEN_PART.fullmatch(p) for p in parts):
                raise UsageError(f"maven root {root!r} is not group:artifact[:version]")
        for scope in args.scope or ():
            if scope not in MAVEN_SCOPES:
                raise UsageError(f"maven --scope {scope!r} is not one of {', '.join(MAVEN_SCOPES)}")
    elif kind == "oci":
        if len(roots) != 1:
            raise UsageError(f"oci needs exactly one ROOT, the repository name; got {len(roots)}"
                             + (f" ({' '.join(roots)})" if roots else ""))
        if not _OCI_REPOSITORY.fullmatch(roots[0]):
            raise UsageError(f"oci repository {roots[0]!r} is not a repository name "
                             "(lower case, e.g. library/app)")
        for tag in args.tag or ():
            if not _OCI_TAG.fullmatch(tag):
                raise UsageError(f"oci tag {tag!r} is not a tag name")
        for platform in args.platform or ():
            if not _PLATFORM.fullmatch(platform):
                raise UsageError(f"oci platform {platform!r} is not os/arch[/variant]")
    elif kind == "deb":
        if not args.dist:
            raise UsageError("deb needs --dist (e.g. --dist stable)")
        for flag, values in (("--dist", [args.dist]), ("--component", args.component or ()),
                             ("--arch", args.arch or ())):
            for value in values:
                if not _DEB_WORD.fullmatch(value) or ".." in value:
                    raise UsageError(f"deb {flag} {value!r} is not a distribution, component "
                                     "or architecture name")
        for name in roots:
            if not _DEB_PACKAGE.fullmatch(name):
                raise UsageError(f"deb package name {name!r} is not a Debian package name")
    elif kind == "pypi":
        if not roots:
            raise UsageError("pypi needs at least one ROOT (a requirement, e.g. 'requests>=2')")
        if urlsplit(args.url).scheme == "file":
            raise UsageError(f"pypi needs an http(s) index URL, not {redact_url(args.url)!r}")
        from packaging.requirements import InvalidRequirement, Requirement

        for root in roots:
            try:
                requirement = Requirement(root)
            except InvalidRequirement:
                raise UsageError(f"pypi requirement {root!r} is not a requirement "
                                 "(e.g. 'requests>=2.31')") from None
            if requirement.url:
                raise UsageError(f"pypi requirement {root!r} is a direct URL, not followed")
    elif kind == "file" and roots:
        raise UsageError(f"file takes no ROOT (got {' '.join(roots)})")
    for flag in ("dist", "component", "arch", "tag", "platform", "scope", "checksums"):
        owner = {"dist": "deb", "component": "deb", "arch": "deb", "tag": "oci",
                 "platform": "oci", "scope": "maven", "checksums": "maven"}[flag]
        if getattr(args, flag, None) and owner != kind:
            raise UsageError(f"--{flag} is for {owner} remotes, not {kind}")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``stagekit``; each command's handler is named, not imported."""
    parser = Parser(prog="stagekit", description="Explore and sync remote content repositories.",
                    epilog="Exit codes: 0 all fine; 1 some units failed or a filter matched "
                           "nothing (listed); 2 bad arguments or a remote that cannot be "
                           "reached (one line says why); 130 interrupted.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    max_depth = _int_at_least(0, "--max-depth")
    concurrency = _int_at_least(1, "--concurrency")

    demo = commands.add_parser("demo", help="explore a generated remote served on 127.0.0.1")
    demo.add_argument("--kind", choices=KINDS, default="maven", help="kind of remote (maven)")
    demo.add_argument("--out", help="folder for results.csv, graph.graphml, tree.svg")
    demo.add_argument("--seed", type=_int_at_least(0, "--seed"), default=0,
                      help="seed of the generated remote")
    demo.add_argument("--metadata-only", action="store_true", help="do not fetch payloads")
    demo.add_argument("--scheduler", metavar="ADDRESS",
                      help="run the per-unit work on this Dask scheduler's workers "
                           "(tcp://host:8786; needs stagekit[dask])")
    demo.add_argument("-v", "--verbose", action="store_true",
                      help="also print the library's warnings as they happen")
    demo.set_defaults(handler="demo")

    explore = commands.add_parser(
        "explore", help="explore a remote",
        description="Explore a remote and record what it found in --store.")
    explore.add_argument("kind", choices=KINDS, help="kind of remote")
    explore.add_argument("url", help="the remote's URL, http(s):// or file:// "
                                     "(file: the PULP_MANIFEST or its folder)")
    explore.add_argument("roots", nargs="*", metavar="ROOT",
                         help="maven: g:a[:v]; oci: repository; deb: package names to keep; "
                              "pypi: requirements")
    explore.add_argument("--dist", help="deb: distribution (e.g. stable)")
    explore.add_argument("--component", action="append", help="deb: component (repeatable)")
    explore.add_argument("--arch", action="append", help="deb: architecture (repeatable)")
    explore.add_argument("--tag", action="append", help="oci: tag (repeatable; default all)")
    explore.add_argument("--platform", action="append", help="oci: os/arch (repeatable)")
    explore.add_argument("--scope", action="append", help="maven: scope (repeatable)")
    explore.add_argument("--checksums", choices=MAVEN_CHECKSUMS,
                         help="maven: where a POM's expected digest comes from: a checksum "
                              "header or else the .sha1 file (header-or-sidecar, the "
                              "default), always the .sha1 file (sidecar), or none (ignore)")
    explore.add_argument("--metadata-only", action="store_true", help="do not fetch payloads")
    explore.add_argument("--scheduler", metavar="ADDRESS",
                         help="run the per-unit work on this Dask scheduler's workers "
                              "(tcp://host:8786; needs stagekit[dask])")
    explore.add_argument("--on-error", choices=("continue", "abort"), default="continue",
                         help="continue past failed units (default) or stop at the first")
    explore.add_argument("--max-depth", type=max_depth, help="do not explore deeper than this")
    explore.add_argument("--concurrency", type=concurrency, help="most requests at once (100)")
    explore.add_argument("--store", default="stagekit-store", help="store folder")
    explore.add_argument("--out", help="a folder (results.csv, graph.graphml, tree.svg), or "
                                       "one .csv or .parquet file for the unit table alone")
    explore.add_argument("--json", action="store_true", help="print a JSON summary")
    explore.add_argument("-v", "--verbose", action="store_true",
                         help="also print the library's warnings as they happen")
    explore.set_defaults(handler="explore")

    runs = commands.add_parser("runs", help="list the runs recorded in a store")
    runs.add_argument("--store", default="stagekit-store", help="store folder")
    runs.set_defaults(handler="runs")

    show = commands.add_parser("show", help="summarise one recorded run")
    show.add_argument("run", type=_int_at_least(1, "RUN"), help="run id (see 'stagekit runs')")
    show.add_argument("--store", default="stagekit-store", help="store folder")
    show.set_defaults(handler="show")

    add_diff_parser(commands)
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv``; ROOTs given after options are kept; bad values exit 2 in one line."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if args.command != "explore" or any(e.startswith("-") for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.roots = [*args.roots, *extra]  # e.g. deb package names after --dist
    if args.command == "explore":
        try:
            check_url(args.url)
            check_roots(args.kind, args.roots, args)
        except UsageError as exc:
            sys.stderr.write(f"stagekit explore: {exc}\n")
            raise SystemExit(2) from None
    return args
