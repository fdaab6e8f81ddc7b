"""Build a remote from the command line's KIND, URL, ROOTs and options (already checked)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from stagekit.cli.parser import UsageError

if TYPE_CHECKING:
    from stagekit.remote import Remote

__all__ = ["UsageError", "build_remote"]


def build_remote(kind: str, url: str, roots: list[str], args: argparse.Namespace) -> Remote:
    """The remote for ``kind``; `UsageError` names the missing or wrong argument."""
    if kind == "file":
        from stagekit.remotes.file import FileRemote

        manifest = url if not url.endswith("/") else url + "PULP_MANIFEST"
        return FileRemote(manifest)
    if kind == "maven":
        from stagekit.remotes.maven import MavenRemote

        scopes = tuple(args.scope) if getattr(args, "scope", None) else ("compile", "runtime")
        return MavenRemote(url, roots, scopes=scopes,
                           checksums=getattr(args, "checksums", None) or "header-or-sidecar")
    if kind == "pypi":
        from stagekit.remotes.pypi import PyPIRemote

        if not roots:
            raise UsageError("pypi needs at least one ROOT (a requirement, e.g. 'requests>=2')")
        return PyPIRemote(url, roots)
    if kind == "oci":
        from stagekit.remotes.oci import OCIRemote

        return OCIRemote(url, roots[0], tags=getattr(args, "tag", None),
                         platforms=getattr(args, "platform", None))
    if kind == "deb":
        from stagekit.remotes.deb import DebRemote

        return DebRemote(url, args.dist, components=args.component,
                         architectures=args.arch, packages=roots or None)
    raise UsageError(f"unknown kind {kind!r}")
