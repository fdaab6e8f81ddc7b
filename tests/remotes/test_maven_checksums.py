"""Where a POM's expected digest comes from: checksum headers, sidecars, or nowhere."""

from __future__ import annotations

import hashlib

import pytest
from multidict import CIMultiDict

from stagekit.errors import ConfigurationError
from stagekit.remotes.maven import MavenRemote
from stagekit.remotes.maven.checksums import header_digests
from stagekit.testing import serve
from stagekit.testing.maven import make_maven_repo, scenario_diamond
from stagekit.testing.repo import StaticFile
from tests.remotes.test_maven_remote import artifact_rows, assert_found_as_expected, explore

SHA1 = hashlib.sha1(b"x").hexdigest()
MD5 = hashlib.md5(b"x").hexdigest()
C_POM = "org/stagekit/diamond/c/1.0/c-1.0.pom"


def everything(**kw):
    return make_maven_repo(n_poms=60, parent_chain=3, bom=True, diamond=True, cycle=True,
                           relocation=True, version_range=True, exclusions=True, deep=4,
                           seed=11, **kw)


def requested_paths(server) -> dict[str, int]:
    return dict(server.counters.by_path)


@pytest.mark.parametrize("style", ["x-checksum", "nexus-etag"])
async def test_header_repository_costs_one_request_per_pom(tmp_path, style):
    repo = everything(checksum_headers=style)
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only")
        requested = requested_paths(server)
    assert_found_as_expected(run, repo, "metadata-only")  # every POM verified
    poms = [p for p in requested if p.endswith(".pom")]
    assert len(poms) == len(repo.expected.units) and all(requested[p] == 1 for p in poms)
    assert not [p for p in requested if p.endswith((".sha1", ".md5"))]
    assert sum(requested.values()) == len(poms) + sum("maven-metadata" in p for p in requested)


async def test_header_repository_immediate_checks_jars_by_their_sidecars(tmp_path):
    repo = everything(checksum_headers="x-checksum")
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="immediate")
        requested = requested_paths(server)
    assert_found_as_expected(run, repo, "immediate")
    assert not [p for p in requested if p.endswith(".pom.sha1")]
    assert [p for p in requested if p.endswith(".jar.sha1")]


async def test_header_not_matching_the_pom_fails_its_unit_like_a_sidecar(tmp_path):
    repo = scenario_diamond(checksum_headers="x-checksum")
    good = repo.files[C_POM]
    repo.files[C_POM] = StaticFile(good.body, good.content_type,
                                   headers=(("X-Checksum-Sha1", "0" * 40),))
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only")
    (key, error), = run.errors
    assert key == "maven.pom:org.stagekit.diamond:c:1.0"
    assert "sha1 mismatch" in error and C_POM in error and "0" * 40 in error
    assert "maven.pom:org.stagekit.diamond:e:1.0" in run.depths()  # via b -> d -> e
    assert run.to_dataframe().set_index("key")["status"][key] == "failed"


async def test_answer_without_a_usable_header_falls_back_to_the_sidecar(tmp_path):
    repo = scenario_diamond(checksum_headers="x-checksum")
    good = repo.files[C_POM]
    repo.files[C_POM] = StaticFile(good.body, good.content_type,
                                   headers=(("X-Checksum-Sha1", "not hex"),))
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only")
        requested = requested_paths(server)
    assert_found_as_expected(run, repo, "metadata-only")
    assert [p for p in requested if p.endswith(".sha1")] == [C_POM + ".sha1"]


async def test_sidecar_mode_asks_every_sidecar_even_with_headers(tmp_path):
    repo = scenario_diamond(checksum_headers="x-checksum")
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only",
                            remote={"checksums": "sidecar"})
        requested = requested_paths(server)
    assert_found_as_expected(run, repo, "metadata-only")
    poms = [p for p in requested if p.endswith(".pom")]
    assert sorted(p + ".sha1" for p in poms) == sorted(p for p in requested
                                                        if p.endswith(".sha1"))


async def test_sidecar_mode_ignores_a_lying_header(tmp_path):
    repo = scenario_diamond()
    good = repo.files[C_POM]
    repo.files[C_POM] = StaticFile(good.body, good.content_type,
                                   headers=(("X-Checksum-Sha1", "0" * 40),))
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only",
                            remote={"checksums": "sidecar"})
    assert_found_as_expected(run, repo, "metadata-only")


async def test_ignore_mode_checks_nothing_and_asks_no_sidecar(tmp_path):
    repo = scenario_diamond()
    repo.files[C_POM + ".sha1"] = StaticFile(b"0" * 40)  # would fail under the other modes
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="immediate",
                            remote={"checksums": "ignore"})
        requested = requested_paths(server)
    assert run.errors == [] and run.depths() == repo.expected.depths()
    assert not [p for p in requested if p.endswith((".sha1", ".md5"))]
    rows = artifact_rows(run)
    assert rows and not any(bool(r.verified) for r in rows.values())
    assert all(r.status == "downloaded" for r in rows.values())


def test_bad_mode_and_algorithm_are_configuration_errors_naming_them():
    with pytest.raises(ConfigurationError, match=r"'sha1-please'.*header-or-sidecar"):
        MavenRemote("http://127.0.0.1/", ["g:a:1"], checksums="sha1-please")
    with pytest.raises(ConfigurationError, match=r"sidecar.*'crc32'"):
        MavenRemote("http://127.0.0.1/", ["g:a:1"], algorithms=("crc32",))


def test_the_round_2_algorithm_tuple_still_works_with_a_warning():
    with pytest.warns(DeprecationWarning, match="algorithms="):
        remote = MavenRemote("http://127.0.0.1/", ["g:a:1"], checksums=("sha1", "md5"))
    assert (remote.checksums, remote.algorithms) == ("sidecar", ("sha1", "md5"))
    with pytest.warns(DeprecationWarning):
        remote = MavenRemote("http://127.0.0.1/", ["g:a:1"], checksums=())
    assert remote.checksums == "ignore"


@pytest.mark.parametrize(("headers", "expected"), [
    ({"x-checksum-sha1": SHA1.upper()}, {"sha1": SHA1}),
    ({"X-Checksum-Sha1": SHA1, "X-Checksum-Md5": MD5}, {"sha1": SHA1}),
    ({"ETag": f'"{{SHA1{{{SHA1}}}}}"'}, {"sha1": SHA1}),
    ({"ETag": f'W/"{{SHA1{{{SHA1}}}}}"'}, {"sha1": SHA1}),
    ({"ETag": f'"{SHA1}"'}, {}),  # a bare hex ETag may be anything: not trusted as sha1
    ({"X-Checksum-Sha1": SHA1[:-1]}, {}),
    ({"X-Checksum-Sha1": "g" * 40}, {}),
    ({"X-Checksum-Md5": MD5}, {}),
])
def test_header_digests_reads_the_known_forms(headers, expected):
    assert header_digests(CIMultiDict(headers), ("sha1",)) == expected


def test_header_digests_reads_each_algorithm_asked():
    headers = CIMultiDict({"X-Checksum-Sha1": SHA1, "X-Checksum-Md5": MD5})
    assert header_digests(headers, ("sha1", "md5")) == {"sha1": SHA1, "md5": MD5}
