"""Test helpers: a fixture HTTP server serving generated repositories, with injectable faults.

Users writing a remote test it the way stagekit does::

    async with serve(make_file_repo(50), faults=Faults(seed=1)) as server:
        server.faults.add(status(503, path="dir0/*", times=2))
        run = await stagekit.explore(remote_for(server.url_for(repo.entry_path())))
        assert_run_matches(run, repo.expected)
"""

from stagekit.testing.checks import assert_run_matches
from stagekit.testing.debian import DebRepo, make_deb_repo
from stagekit.testing.faults import (
    Corrupt,
    Fault,
    FaultRule,
    Faults,
    Hold,
    Latency,
    RateLimit,
    Redirect,
    Reset,
    Stall,
    Status,
    Truncate,
    corrupt,
    hold,
    latency,
    rate_limit,
    redirect,
    reset,
    stall,
    status,
    truncate,
)
from stagekit.testing.file import FileRepo, make_file_repo
from stagekit.testing.maven import MavenRepo, make_maven_repo
from stagekit.testing.oci import OCIRepo, make_oci_repo
from stagekit.testing.pypi import PyPIRepo, make_pypi_repo
from stagekit.testing.repo import Expected, ExpectedArtifact, ExpectedUnit, Repo, StaticFile
from stagekit.testing.server import Counters, RequestRecord, Server, serve

__all__ = [
    "Corrupt",
    "Counters",
    "DebRepo",
    "Expected",
    "ExpectedArtifact",
    "ExpectedUnit",
    "Fault",
    "FaultRule",
    "Faults",
    "FileRepo",
    "Hold",
    "Latency",
    "MavenRepo",
    "OCIRepo",
    "PyPIRepo",
    "RateLimit",
    "Redirect",
    "Repo",
    "RequestRecord",
    "Reset",
    "Server",
    "Stall",
    "StaticFile",
    "Status",
    "Truncate",
    "assert_run_matches",
    "corrupt",
    "hold",
    "latency",
    "make_deb_repo",
    "make_file_repo",
    "make_maven_repo",
    "make_oci_repo",
    "make_pypi_repo",
    "rate_limit",
    "redirect",
    "reset",
    "serve",
    "stall",
    "status",
    "truncate",
]
