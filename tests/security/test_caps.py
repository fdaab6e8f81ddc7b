"""Memory bombs (issue 13): every body is capped while it streams, a declared size is a cap,
decompression, lines and property expansion are capped; each cap fails that unit only,
with an error naming the URL and the limit, and the process never holds the bomb."""

from __future__ import annotations

import asyncio
import gzip

import pytest

from stagekit.download import DownloadConfig, Downloader
from stagekit.errors import BodyTooLargeError, DigestMismatchError
from stagekit.limits import Limits
from stagekit.remotes.deb import DebRemote
from stagekit.remotes.maven import MavenRemote
from stagekit.remotes.oci import OCIRemote
from stagekit.storage import Store
from stagekit.testing.hostile import MiB, endless, hostile_server, json_body
from stagekit.testing.hostile_repos import add_files, dependency, pom, release, xz_line_bomb
from tests.security.support import FAST, PeakRSS, explore, statuses

SMALL = DownloadConfig(backoff_base=0.01, backoff_max=0.05, read_timeout=5.0,
                       limits=Limits(metadata_bytes=4 * MiB, line_bytes=64 * 1024,
                                     decompressed_bytes=8 * MiB))
BOUND = 200 * MiB  # what the process may grow by, whatever the server sends


async def test_metadata_that_never_ends_stops_at_its_cap(tmp_path):
    async with hostile_server() as evil:
        evil.add("meta.json", endless(max_bytes=512 * MiB))
        with PeakRSS() as peak:
            async with asyncio.timeout(20), Downloader(SMALL, temp_dir=tmp_path) as d:
                with pytest.raises(BodyTooLargeError) as info:
                    await d.get_bytes(evil.url_for("meta.json"))
    message = str(info.value)
    assert evil.url_for("meta.json") in message
    assert f"limit of {4 * MiB} bytes (Limits.metadata_bytes)" in message
    assert info.value.limit == "Limits.metadata_bytes" and info.value.tries == 1
    assert evil.paths == ["/meta.json"]  # not retried
    assert peak.grew < BOUND


async def test_a_declared_size_is_a_cap(tmp_path):
    async with hostile_server() as evil:
        evil.add("ten-bytes", endless(max_bytes=1024 * MiB))
        with PeakRSS() as peak:
            async with asyncio.timeout(20), Downloader(FAST, temp_dir=tmp_path) as d:
                with pytest.raises(DigestMismatchError, match="expected 10, got more than 10"):
                    await d.fetch(evil.url_for("ten-bytes"), expected_size=10)
    assert evil.paths == ["/ten-bytes"]  # streamed once, and cut off at once
    assert evil.bytes_sent < 64 * MiB
    assert list(tmp_path.iterdir()) == []
    assert peak.grew < BOUND


async def test_an_endless_tag_manifest_fails_its_tag_only(tmp_path):
    async with hostile_server() as evil:
        evil.add("v2/repo/tags/list", json_body({"tags": ["bomb"]}))
        evil.add("v2/repo/manifests/bomb", endless(prefix=b'{"schemaVersion": 2, "x": "'))
        with PeakRSS() as peak:
            run = await explore(OCIRemote(evil.url, "repo", auth=False),
                                Store(tmp_path / "store"), config=SMALL)
    assert statuses(run) == {"oci.tag:repo:bomb": "failed"}
    error = dict(run.errors)["oci.tag:repo:bomb"]
    assert "manifests/bomb" in error and "Limits.metadata_bytes" in error
    assert evil.paths.count("/v2/repo/manifests/bomb") == 1
    assert peak.grew < BOUND


async def test_an_endless_inrelease_fails_the_release(tmp_path):
    async with hostile_server() as evil:
        evil.add("debian/dists/stable/InRelease", endless(prefix=b"Origin: x\n"))
        run = await explore(DebRemote(evil.url_for("debian"), "stable"),
                            Store(tmp_path / "store"), config=SMALL)
    assert statuses(run) == {"deb.release:stable": "failed"}
    assert "Limits.metadata_bytes" in dict(run.errors)["deb.release:stable"]
    assert evil.paths == ["/debian/dists/stable/InRelease"]


async def test_an_xz_index_that_expands_to_one_huge_line_is_refused(tmp_path):
    bomb = xz_line_bomb(64 * MiB)
    assert len(bomb) < 64 * 1024
    indexes = {"main/binary-amd64/Packages.xz": bomb}
    async with hostile_server() as evil:
        base = add_files(evil, "debian", {
            "dists/stable/Release": release(["main"], ["amd64"], indexes),
            "dists/stable/main/binary-amd64/Packages.xz": bomb})
        with PeakRSS() as peak:
            run = await explore(DebRemote(base, "stable", release_files=["Release"]),
                                Store(tmp_path / "store"), config=SMALL)
    found = statuses(run)
    assert found["deb.packages:main:amd64"] == "failed"
    error = dict(run.errors)["deb.packages:main:amd64"]
    assert "Packages.xz" in error and "a line is larger than the limit of 65536 bytes" in error
    assert "Limits.line_bytes" in error
    assert peak.grew < BOUND


async def test_decompression_stops_at_its_cap(tmp_path):
    stanza = (b"Package: p%d\nVersion: 1\nArchitecture: amd64\nFilename: pool/p.deb\n"
              b"Size: 1\nSHA256: " + b"a" * 64 + b"\n\n")
    body = gzip.compress(b"".join(stanza % i for i in range(150_000)), 1)
    indexes = {"main/binary-amd64/Packages.gz": body}
    async with hostile_server() as evil:
        base = add_files(evil, "debian", {
            "dists/stable/Release": release(["main"], ["amd64"], indexes),
            "dists/stable/main/binary-amd64/Packages.gz": body})
        config = DownloadConfig(limits=Limits(decompressed_bytes=256 * 1024))
        run = await explore(DebRemote(base, "stable", release_files=["Release"]),
                            Store(tmp_path / "store"), config=config, policy="metadata-only")
    found = statuses(run)
    assert found["deb.packages:main:amd64"] == "failed"
    error = dict(run.errors)["deb.packages:main:amd64"]
    assert "the decompressed index is larger than the limit of 262144 bytes" in error
    assert "Limits.decompressed_bytes" in error
    # What came before the cap is kept; nothing after it.
    packages = [k for k in found if k.startswith("deb.package:")]
    assert 0 < len(packages) < 150_000


async def test_maven_properties_that_double_forty_times_fail_the_pom(tmp_path):
    properties = {"p0": "xxxxxxxxxxxxxxxx"}
    properties.update({f"p{i}": f"${{p{i - 1}}}${{p{i - 1}}}" for i in range(1, 41)})
    body = pom("org.ex", "app", "1.0", properties=properties,
               dependencies=[dependency("org.ex", "lib", "${p40}")])
    assert len(body) < 2000
    async with hostile_server() as evil:
        base = add_files(evil, "maven", {"org/ex/app/1.0/app-1.0.pom": body})
        with PeakRSS() as peak:
            run = await explore(MavenRemote(base, ["org.ex:app:1.0"], checksums="ignore"),
                                Store(tmp_path / "store"))
    error = dict(run.errors)["maven.pom:org.ex:app:1.0"]
    assert "expands to more than 1048576 characters (Limits.property_bytes)" in error
    assert peak.grew < BOUND


async def test_an_endless_pom_is_fetched_once_and_fails(tmp_path):
    parent = pom("org.ex", "app", "1.0", dependencies=[dependency("org.ex", "bomb", "1")])
    async with hostile_server() as evil:
        base = add_files(evil, "maven", {
            "org/ex/app/1.0/app-1.0.pom": parent,
            "org/ex/bomb/1/bomb-1.pom": endless(prefix=b"<project>")})
        with PeakRSS() as peak:
            run = await explore(MavenRemote(base, ["org.ex:app:1.0"], checksums="ignore"),
                                Store(tmp_path / "store"), config=SMALL)
    assert evil.paths.count("/maven/org/ex/bomb/1/bomb-1.pom") == 1
    error = dict(run.errors)["maven.pom:org.ex:app:1.0"]
    assert "bomb-1.pom" in error and "Limits.metadata_bytes" in error
    assert peak.grew < BOUND
