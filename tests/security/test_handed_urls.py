"""URLs a remote hands over stay on http(s) and on the remote's origin (issue 13, "a remote
makes stagekit read local files"), and paths built from remote data stay in the repository
("paths out of the repository"): each attack below is served by a hostile fixture, and the
test checks what the hostile server (or the local disk) saw."""

from __future__ import annotations

import asyncio
import json

import pytest

from stagekit.download import Downloader
from stagekit.errors import DownloadError, UnsafeURLError
from stagekit.remotes.deb import DebRemote
from stagekit.remotes.maven import MavenRemote
from stagekit.remotes.oci import OCIRemote
from stagekit.storage import Store
from stagekit.testing.hostile import hostile_server, json_body, respond
from stagekit.testing.hostile_repos import add_files, dependency, pom, release
from stagekit.urls import handed_url
from tests.security.support import FAST, explore, statuses


@pytest.mark.parametrize("link", [
    "<file://{local}>; rel=\"next\"",
    "<{foreign}v2/repo/tags/list?last=a>; rel=\"next\"",
    "<gopher://127.0.0.1/x>; rel=\"next\"",
])
async def test_a_tags_list_link_never_leaves_the_registry(tmp_path, link):
    local = tmp_path / "local.json"
    local.write_text(json.dumps({"tags": ["stolen-from-disk"]}))
    async with hostile_server() as registry, hostile_server() as foreign:
        foreign.add("v2/repo/tags/list", json_body({"tags": ["foreign-tag"]}))
        header = link.format(local=local, foreign=foreign.url)
        registry.add("v2/repo/tags/list", json_body({"tags": ["a"]}, headers={"Link": header}))
        remote = OCIRemote(registry.url, "repo", auth=False)
        with pytest.raises(UnsafeURLError, match="Link rel=next: refused") as info:
            await explore(remote, Store(tmp_path / "store"))
    assert foreign.hits == []
    assert not any("stolen" in p or "foreign" in p for p in registry.paths)
    assert registry.paths == ["/v2/repo/tags/list"]
    assert "stolen" not in str(info.value)


async def test_a_same_origin_link_is_followed(tmp_path):
    async with hostile_server() as registry:
        registry.add("v2/repo/tags/list", json_body(
            {"tags": ["a"]}, headers={"Link": '</v2/repo/tags2>; rel="next"'}))
        registry.add("v2/repo/tags2", json_body({"tags": ["b"]}))
        remote = OCIRemote(registry.url, "repo", auth=False)
        run = await explore(remote, Store(tmp_path / "store"))
    assert set(statuses(run)) == {"oci.tag:repo:a", "oci.tag:repo:b"}


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/x",
                                      "http://u:p@127.0.0.1:9/x"])
async def test_a_redirect_off_http_is_refused(tmp_path, location):
    async with hostile_server() as evil:
        evil.add("x", respond(status=302, headers={"Location": location}))
        async with asyncio.timeout(20), Downloader(FAST, temp_dir=tmp_path) as d:
            with pytest.raises(DownloadError, match="refused redirect"):
                await d.get_bytes(evil.url_for("x"))
            with pytest.raises(DownloadError, match="refused redirect"):
                await d.fetch(evil.url_for("x"))


def test_handed_url_is_the_one_policy():
    base = "https://user:pw@registry.test/v2/x/tags/list"
    assert handed_url("/v2/x/tags/list?last=a", base=base, what="Link") == \
        "https://user:pw@registry.test/v2/x/tags/list?last=a"
    assert handed_url("https://cdn.test/blob", base=base, what="redirect", same_origin=False) \
        == "https://cdn.test/blob"
    for bad in ("file:///etc/passwd", "https://other.test/v2/", "http://registry.test/v2/",
                "https://a:b@registry.test/v2/", "javascript:alert(1)"):
        with pytest.raises(UnsafeURLError):
            handed_url(bad, base=base, what="Link")


async def test_a_release_component_cannot_lead_out_of_dists(tmp_path):
    packages = b""
    indexes = {"main/binary-amd64/Packages": packages,
               "../../../x/binary-amd64/Packages": packages,
               "%2e%2e/%2e%2e/y/binary-amd64/Packages": packages}
    text = release(["main", "../../../x", "%2e%2e/%2e%2e/y"], ["amd64"], indexes)
    async with hostile_server() as evil:
        base = add_files(evil, "debian", {
            "dists/stable/Release": text,
            "dists/stable/main/binary-amd64/Packages": packages})
        run = await explore(DebRemote(base, "stable", release_files=["Release"]),
                            Store(tmp_path / "store"))
    raw = [hit.raw for hit in evil.hits]
    assert all(p.startswith("/debian/dists/stable/") for p in raw), raw
    assert all(".." not in p and "%2e" not in p.lower() for p in raw), raw
    found = statuses(run)
    assert found["deb.packages:main:amd64"] == "downloaded"
    assert found["deb.packages:../../../x:amd64"] == "failed"
    errors = dict(run.errors)
    assert "unsafe segment '..'" in errors["deb.packages:../../../x:amd64"]


async def test_maven_coordinates_cannot_lead_out_of_the_repository(tmp_path):
    deps = [dependency("org.%2e%2e.%2e%2e.%2e%2e", "secret", "1"),
            dependency("org.ex", "lib", "1/../../../../etc"),
            dependency("org.ex", "lib2", "%252e%252e")]
    async with hostile_server() as evil:
        base = add_files(evil, "maven", {
            "org/ex/app/1.0/app-1.0.pom": pom("org.ex", "app", "1.0", dependencies=deps,
                                              parent=("org.%2e%2e", "p", "1")),
        })
        run = await explore(MavenRemote(base, ["org.ex:app:1.0"], checksums="ignore"),
                            Store(tmp_path / "store"))
    raw = [hit.raw for hit in evil.hits]
    assert raw and all(p.startswith("/maven/org/ex/app/1.0/") for p in raw), raw
    error = dict(run.errors)["maven.pom:org.ex:app:1.0"]
    assert "unsafe segment" in error and "%2e%2e" in error
