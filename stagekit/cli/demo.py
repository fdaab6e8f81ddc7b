"""``stagekit demo``: serve a generated remote on 127.0.0.1 and explore it."""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["KINDS", "demo_command"]

KINDS = ("maven", "file", "oci", "deb", "pypi")


def _generate(kind: str, seed: int) -> tuple[Any, Any]:
    """A generated repo and a function building the remote from the server's URL."""
    if kind == "file":
        from stagekit.remotes.file import FileRemote
        from stagekit.testing import make_file_repo

        repo = make_file_repo(200, size=(1024, 64 * 1024), seed=seed)
        return repo, lambda url: FileRemote(url + repo.entry_path())
    if kind == "maven":
        from stagekit.remotes.maven import MavenRemote
        from stagekit.testing.maven import make_maven_repo

        repo = make_maven_repo(n_poms=400, depth=8, fanout=3, seed=seed, parent_chain=3,
                               bom=True, diamond=True, cycle=True, relocation=True,
                               version_range=True, exclusions=True)
        return repo, lambda url: MavenRemote(url + repo.entry_path(), repo.roots)
    if kind == "pypi":
        from stagekit.remotes.pypi import PyPIRemote
        from stagekit.testing.pypi import make_pypi_repo

        repo = make_pypi_repo(n_releases=300, depth=6, fanout=3, markers=True, extras=True,
                              cycle=True, yanked=True, prereleases=True, conflict=True,
                              seed=seed)
        return repo, lambda url: PyPIRemote(url + repo.entry_path(), repo.roots)
    if kind == "oci":
        from stagekit.remotes.oci import OCIRemote
        from stagekit.testing.oci import make_oci_repo

        repo = make_oci_repo(("library/app",), tags=6, auth=True, seed=seed)
        return repo, lambda url: OCIRemote(url, "library/app")
    from stagekit.remotes.deb import DebRemote
    from stagekit.testing.debian import make_deb_repo

    repo = make_deb_repo(packages=40, seed=seed)
    return repo, lambda url: DebRemote(url, "stable")


@contextmanager
def _served(repo: Any) -> Iterator[str]:
    """Serve ``repo`` from a thread of its own (the run gets the main loop)."""
    from stagekit.testing import serve

    ready = threading.Event()
    stop: dict[str, Any] = {}

    async def main() -> None:
        async with serve(repo) as server:
            stop["loop"] = asyncio.get_running_loop()
            stop["event"] = asyncio.Event()
            stop["url"] = server.url
            ready.set()
            await stop["event"].wait()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    ready.wait(30)
    try:
        yield stop["url"]
    finally:
        stop["loop"].call_soon_threadsafe(stop["event"].set)
        thread.join(10)


def demo_command(args: argparse.Namespace) -> int:
    """Generate, serve and explore a remote; print the summary, write the results."""
    from stagekit.cli.commands import execute

    out = Path(args.out or time.strftime("stagekit-demo-%Y%m%d-%H%M%S"))
    repo, make_remote = _generate(args.kind, args.seed)
    with _served(repo) as url:
        print(f"serving a generated {args.kind} remote at {url}")
        code = execute(make_remote(url), args, out / "store", str(out))
    return code
