"""Each bundled remote over a small generated repository, healthy or with a failing root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stagekit import Remote
from stagekit.remotes import DebRemote, FileRemote, MavenRemote, OCIRemote, PyPIRemote
from stagekit.testing import (
    Repo,
    make_deb_repo,
    make_file_repo,
    make_maven_repo,
    make_oci_repo,
    make_pypi_repo,
)


@dataclass
class Case:
    """A repository and how to point each remote at it."""

    repo: Repo
    healthy: Callable[..., Remote]
    broken: Callable[..., Remote]  # one root fails (the rest is healthy)
    broken_key: str


def cases() -> dict[str, Callable[[], Case]]:
    """A fresh `Case` per bundled remote (by kind), made on demand."""

    def file() -> Case:
        clean = make_file_repo(6, seed=3, prefix="clean/")
        bad = make_file_repo(6, seed=3, prefix="bad/",
                             bad_lines=["../escape.bin," + "a" * 64 + ",3"])
        return Case(
            Repo({**clean.files, **bad.files}, clean.expected),
            healthy=lambda url, **o: FileRemote(url + clean.entry_path(), **o),
            broken=lambda url, **o: FileRemote(url + bad.entry_path(), **o),
            broken_key="file:",
        )

    def maven() -> Case:
        repo = make_maven_repo(n_poms=12, depth=3, fanout=2, seed=2)
        return Case(
            repo,
            healthy=lambda url, **o: MavenRemote(url, repo.roots, **o),
            broken=lambda url, **o: MavenRemote(url, [*repo.roots, "org.nowhere:gone:1.0"], **o),
            broken_key="maven.pom:org.nowhere:gone:1.0",
        )

    def oci() -> Case:
        repo = make_oci_repo(tags=2, seed=4)
        tags = sorted(repo.content.tags["library/app"])
        return Case(
            repo,
            healthy=lambda url, **o: OCIRemote(url, "library/app", **o),
            broken=lambda url, **o: OCIRemote(url, "library/app", tags=[*tags, "nope"], **o),
            broken_key="oci.tag:library/app:nope",
        )

    def deb() -> Case:
        repo = make_deb_repo(packages=3, components=["main"], architectures=["amd64"],
                             expected_release="InRelease", seed=5)
        return Case(
            repo,
            healthy=lambda url, **o: DebRemote(url, "stable", **o),
            broken=lambda url, **o: DebRemote(url, "nowhere", **o),
            broken_key="deb.release:nowhere",
        )

    def pypi() -> Case:
        repo = make_pypi_repo(n_releases=8, depth=2, fanout=2, extras=True, seed=6)
        return Case(
            repo,
            healthy=lambda url, **o: PyPIRemote(url + "simple/", repo.roots, **o),
            broken=lambda url, **o: PyPIRemote(url + "simple/", [*repo.roots, "ghost>=1"], **o),
            broken_key="pypi.release:ghost:>=1",
        )

    return {"file": file, "maven": maven, "oci": oci, "deb": deb, "pypi": pypi}
