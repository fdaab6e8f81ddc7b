"""Odd versions (issue 13): 5,000 hyphen-separated items (a RecursionError before) or 5,000
digits (Python's int conversion limit) fail the unit with a clear error, never the run."""

from __future__ import annotations

import pytest

from stagekit.errors import MetadataError
from stagekit.remotes.maven import MavenRemote
from stagekit.remotes.maven.versions import ComparableVersion, highest_version
from stagekit.storage import Store
from stagekit.testing.hostile import hostile_server
from stagekit.testing.hostile_repos import add_files, dependency, metadata, pom
from tests.security.support import explore, statuses

HYPHENS = "-".join(["1"] * 5000)
DIGITS = "9" * 5000
SWITCHES = "1a" * 2000


@pytest.mark.parametrize("version", [HYPHENS, DIGITS, SWITCHES])
def test_an_odd_version_is_refused_with_a_clear_error(version):
    with pytest.raises(MetadataError, match="characters long, more than the 256 compared"):
        ComparableVersion(version)


def test_deep_nesting_within_the_length_is_refused_too():
    with pytest.raises(MetadataError, match="nests more than 64 items"):
        ComparableVersion("1a" * 100)


def test_a_listed_odd_version_is_skipped():
    assert highest_version(["1.0", HYPHENS, DIGITS, "2.0"]) == "2.0"


async def test_odd_versions_fail_their_pom_not_the_run(tmp_path):
    deps = [dependency("org.ex", "ranged", f"[{DIGITS}]"),
            dependency("org.ex", "open", "[1.0,)")]
    files = {
        "org/ex/app/1.0/app-1.0.pom": pom("org.ex", "app", "1.0", dependencies=deps),
        "org/ex/ranged/maven-metadata.xml": metadata("org.ex", "ranged", ["1.0"]),
        "org/ex/open/maven-metadata.xml": metadata("org.ex", "open", [HYPHENS, DIGITS, "1.5"]),
        "org/ex/open/1.5/open-1.5.pom": pom("org.ex", "open", "1.5"),
        # A root named without a version whose metadata lists only odd versions.
        "org/ex/odd/maven-metadata.xml": metadata("org.ex", "odd", [HYPHENS, DIGITS]),
    }
    async with hostile_server() as evil:
        base = add_files(evil, "maven", files)
        run = await explore(MavenRemote(base, ["org.ex:app:1.0", "org.ex:odd"], checksums="ignore"),
                            Store(tmp_path / "store"))
    found = statuses(run)
    assert run.status == "finished"
    assert found["maven.pom:org.ex:open:1.5"] == "downloaded"
    errors = dict(run.errors)
    assert "more than the 256 compared" in errors["maven.pom:org.ex:app:1.0"]
    assert "lists no version of org.ex:odd" in errors["maven.pom:org.ex:odd"]
