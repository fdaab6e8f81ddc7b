"""What a finished run means for the exit code, and filters that matched nothing.

Exit 2 (one line) when the remote could not be reached at all: its entry point (the
manifest, the tags list, the Release file, the Maven host) failed and nothing else was
found. Exit 1 when some units failed or a filter the user typed matched nothing (a Debian
package name, an OCI platform, a Maven root): each is named in a warning. Exit 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from stagekit.run import Run

__all__ = ["Outcome", "judge"]


@dataclass(slots=True)
class Outcome:
    """The exit code, the one line of an unreachable remote, and warnings to print."""

    unreachable: str | None = None
    warnings: list[str] = field(default_factory=list)


def _host_answers(url: str, timeout: float = 5.0) -> bool:
    """Whether anything listens at ``url``'s host and port (a file URL: whether it exists)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return Path(parts.path).exists()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def judge(run: Run, args: argparse.Namespace) -> Outcome:
    """Classify a run that ended without raising (see the module's docstring)."""
    units = list(run.records.units.values())
    outcome = Outcome()
    url = getattr(args, "url", None)  # `stagekit demo` has none: its server is local
    roots = getattr(args, "roots", None) or []
    platforms = getattr(args, "platform", None) or []
    # Debian's root is its Release file, Maven's roots are fetched from its host: when they
    # all failed, nothing was reached. (A flat remote's roots are files listed by a manifest
    # that was reached; OCI's entry point, the tags list, raises when it fails.)
    if args.kind in ("deb", "maven") and units and all(
            u.status == "failed" and u.depth == 0 for u in units):
        first = units[0]
        if args.kind == "deb" or (url is not None and not _host_answers(url)):
            outcome.unreachable = f"cannot explore: {first.key}: {first.error}"
            return outcome
    if args.kind == "maven":
        for unit in units:
            if unit.depth == 0 and unit.status == "failed":
                outcome.warnings.append(f"maven root {unit.key.removeprefix('maven.pom:')} "
                                        f"could not be fetched")
    elif args.kind == "deb" and roots:
        indexes = [u for u in units if u.kind == "deb.packages" and u.status != "failed"]
        names = {u.natural_key[0] for u in units if u.kind == "deb.package" and u.natural_key}
        if indexes:
            for name in roots:
                if name not in names:
                    outcome.warnings.append(f"deb package {name!r} matched nothing in "
                                            f"{args.dist} ({len(indexes)} indexes read)")
    elif args.kind == "oci" and platforms:
        outcome.warnings.extend(_unmatched_platforms(run, platforms))
    return outcome


def _unmatched_platforms(run: Run, platforms: list[str]) -> list[str]:
    """The ``--platform`` values that no child of any index of the run matched."""
    from stagekit.remotes.oci_manifest import Platform

    wanted = {text: Platform.parse(text) for text in platforms}
    seen: list[object] = []
    indexes = {u.key for u in run.records.units.values()
               if u.kind == "oci.index" and u.status != "failed"}
    for (unit_key, _path), artifact in run.records.artifacts.items():
        if unit_key not in indexes or not artifact.sha256:
            continue
        try:
            data = json.loads(run.store.artifact_path(artifact.sha256).read_bytes())
        except (OSError, ValueError):
            continue
        for child in data.get("manifests") or () if isinstance(data, dict) else ():
            if isinstance(child, dict):
                seen.append(child.get("platform"))
    if not indexes:
        return []
    available = sorted({f"{p.get('os')}/{p.get('architecture')}" for p in seen
                        if isinstance(p, dict)})
    return [f"oci platform {text!r} matched nothing (the indexes offer "
            f"{', '.join(available) or 'no platform'})"
            for text, platform in wanted.items()
            if not any(platform.matches(p) for p in seen)]
