"""Bad metadata of the bundled remotes (Maven, Debian, OCI): each case is a per-unit error
naming the URL and the field, the rest of the run completes, nothing hangs, and no file
lands outside the store."""

from __future__ import annotations

import hashlib
import time

import pytest

from stagekit.storage import Store
from stagekit.testing import serve
from stagekit.testing.repo import StaticFile
from tests.faults.support import assert_store_sound, explore, files_outside

pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.timeout(60)]

maven = pytest.importorskip("stagekit.remotes.maven.remote")
deb = pytest.importorskip("stagekit.remotes.deb")
oci = pytest.importorskip("stagekit.remotes.oci")

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY a "aaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
<!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;"><!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">]>
<project><modelVersion>4.0.0</modelVersion><groupId>&i;</groupId>
<artifactId>bomb</artifactId><version>1.0</version></project>
"""
GROUP = "org.stagekit.faults"


def pom(artifact: str, deps: list[tuple[str, str]]) -> bytes:
    dependencies = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>1.0</version></dependency>" for g, a in deps)
    return (f"<project><modelVersion>4.0.0</modelVersion><groupId>{GROUP}</groupId>"
            f"<artifactId>{artifact}</artifactId><version>1.0</version>"
            f"<dependencies>{dependencies}</dependencies></project>").encode()


def maven_repo():
    """app depends on good (-> leaf), a malformed POM, a bomb and unsafe coordinates."""
    from stagekit.testing.maven import GenPom, MavenRepoBuilder

    b = MavenRepoBuilder(seed=4)
    app = b.add(GenPom(GROUP, "app", "1.0"))
    b.roots.append(app.gav)
    repo = b.build()
    base = GROUP.replace(".", "/")

    def put(artifact: str, body: bytes) -> str:
        path = f"{base}/{artifact}/1.0/{artifact}-1.0.pom"
        repo.files[path] = StaticFile(body, "application/xml")
        repo.files[path + ".sha1"] = StaticFile(hashlib.sha1(body).hexdigest().encode())
        return path

    put("app", pom("app", [(GROUP, "good"), (GROUP, "malformed"), (GROUP, "bomb"),
                           (GROUP, "..\\..\\evil"), ("..", "dotdot")]))
    put("good", pom("good", [(GROUP, "leaf")]))
    put("leaf", pom("leaf", []))
    put("malformed", b"<project><artifactId>malformed</artifactId><version>1.0</project>")
    put("bomb", BOMB)
    return repo, base


async def test_maven_malformed_pom_bomb_and_unsafe_coordinates(tmp_path):
    repo, base = maven_repo()
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        remote = maven.MavenRemote(server.url_for(""), [f"{GROUP}:app:1.0"])
        started = time.monotonic()
        run = await explore(remote, store, policy="metadata-only")
        elapsed = time.monotonic() - started
        url = server.url_for(base)
        requested = set(server.counters.by_path)
    errors = dict(run.errors)
    by_name = {key.split(":")[2]: text for key, text in errors.items()}
    assert f"{url}/malformed/1.0/malformed-1.0.pom" in by_name["malformed"]
    assert "not well-formed" in by_name["malformed"]
    assert f"{url}/bomb/1.0/bomb-1.0.pom" in by_name["bomb"] and "forbidden" in by_name["bomb"]
    assert elapsed < 10  # the bomb was refused, not expanded
    # The unsafe dependencies fail their parent (naming its URL and the dependency),
    # after its other children were yielded; no request was made for them.
    app = by_name["app"]
    assert f"{url}/app/1.0/app-1.0.pom" in app and "dependency:compile" in app
    assert "evil" in app and "backslash" in app and "dotdot" in app and "absolute" in app
    assert not [p for p in requested if "evil" in p or "dotdot" in p]
    status = run.to_dataframe().set_index("key")["status"]
    assert status[f"maven.pom:{GROUP}:leaf:1.0"] == "downloaded"  # its jar waits
    assert status[f"maven.pom:{GROUP}:good:1.0"] == "downloaded"
    assert not [k for k in status.index if "evil" in k or "dotdot" in k]
    assert files_outside(tmp_path, [store.path]) == []
    assert_store_sound(store)


def deb_repo():
    from stagekit.testing.debian import make_deb_repo

    repo = make_deb_repo(packages=6, components=["main", "contrib"], architectures=["amd64"],
                         expected_release="InRelease", seed=12)
    main = repo.packages[("main", "amd64")]
    no_sha = main[1].name
    assert repo.drop_sha256(no_sha) >= 1
    unsafe = {main[2].name: "../../../../etc/passwd", main[3].name: "/abs/pool/x.deb",
              main[4].name: "pool\\main\\x.deb"}
    for package in main:
        if package.name in unsafe:
            package.filename = unsafe[package.name]
    repo._write_index("main", "amd64")  # as drop_sha256 does: index and Release agree
    repo._write_release()
    repo.truncate_packages("contrib", "amd64")
    return repo, no_sha, unsafe


async def test_deb_truncated_index_stanza_without_sha256_and_unsafe_filenames(tmp_path):
    repo, no_sha, unsafe = deb_repo()
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        run = await explore(deb.DebRemote(server.url, "stable"), store)
        index_url = server.url_for(repo.index_path("contrib", "amd64", "xz"))
    errors = dict(run.errors)
    assert "deb.packages:contrib:amd64" in errors
    truncated = errors["deb.packages:contrib:amd64"]
    assert index_url.rsplit("/", 1)[0] in truncated and "mismatch" in truncated
    named = {key.split(":")[1]: text for key, text in errors.items()
             if key.startswith("deb.package:")}
    assert "has no SHA256 field" in named[no_sha] and "stanza" in named[no_sha]
    for name, filename in unsafe.items():
        assert "Filename" in named[name] and repr(filename)[1:-1] in named[name], named[name]
    healthy = [p for p in repo.packages[("main", "amd64")]
               if p.name not in unsafe and p.name != no_sha]
    frame = run.to_dataframe().set_index("key")
    assert {frame.loc[p.key, "status"] for p in healthy} == {"downloaded"}
    assert run.status == "finished"
    assert files_outside(tmp_path, [store.path]) == []
    assert_store_sound(store)


async def test_oci_manifest_not_matching_its_digest_and_self_referencing_index(tmp_path):
    from stagekit.testing.oci import make_oci_repo

    repo = make_oci_repo(tags=4, seed=13)
    corrupted = repo.corrupt_manifest("1.1")
    looped = repo.self_referencing_index("1.2")
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        run = await explore(oci.OCIRemote(server.url, "library/app"), store,
                            policy="metadata-only")
        tag_url = server.url_for("v2/library/app/manifests/1.1")
    errors = dict(run.errors)
    assert set(errors) == {"oci.tag:library/app:1.1", "oci.tag:library/app:1.2"}
    assert corrupted in errors["oci.tag:library/app:1.1"]
    assert tag_url in errors["oci.tag:library/app:1.1"]
    assert looped in errors["oci.tag:library/app:1.2"]
    frame = run.to_dataframe().set_index("key")
    for tag in ("1.0", "1.3"):
        assert frame.loc[f"oci.tag:library/app:{tag}", "status"] == "downloaded"
    assert run.status == "finished"
    assert files_outside(tmp_path, [store.path]) == []
    assert_store_sound(store)
