"""Hostile sizes cost linear time and bounded memory (issue 13, "quadratic work"): a
version list of 80,000, a POM with 50,000 dependencies, a parent chain of 2,000, endless
tag pages and an index of 200,000 stanzas each end quickly, with a clear limit where one
applies, while the event loop keeps running."""

from __future__ import annotations

import lzma
import time

import pytest

from stagekit.download import DownloadConfig
from stagekit.limits import Limits
from stagekit.remotes.deb import DebRemote
from stagekit.remotes.maven import MavenRemote
from stagekit.remotes.maven.metadata import parse_metadata, pick_version
from stagekit.remotes.oci import OCIRemote
from stagekit.storage import Store
from stagekit.testing.hostile import MiB, endless_pages, hostile_server
from stagekit.testing.hostile_repos import add_files, dependency, metadata, pom, release
from tests.security.support import LoopLag, PeakRSS, explore, statuses

BOUND = 300 * MiB


def test_eighty_thousand_versions_parse_in_linear_time():
    versions = [f"1.{i // 1000}.{i % 1000}" for i in range(80_000)]
    data = metadata("org.ex", "app", versions + versions[:1000])  # duplicates too
    started = time.monotonic()
    meta = parse_metadata(data, url="u")
    assert pick_version(meta) == "1.79.999"
    assert len(meta.versions) == 80_000
    assert time.monotonic() - started < 15  # was 184 s: a list searched once per version


@pytest.mark.slow
async def test_eighty_thousand_versions_resolve_quickly_off_the_loop(tmp_path):
    versions = [f"1.{i // 1000}.{i % 1000}" for i in range(80_000)]
    files = {"org/ex/app/maven-metadata.xml": metadata("org.ex", "app", versions),
             "org/ex/app/1.79.999/app-1.79.999.pom": pom("org.ex", "app", "1.79.999")}
    async with hostile_server() as evil:
        base = add_files(evil, "maven", files)
        started = time.monotonic()
        async with LoopLag() as lag:
            run = await explore(MavenRemote(base, ["org.ex:app"], checksums="ignore"),
                                Store(tmp_path / "store"))
        took = time.monotonic() - started
    assert statuses(run) == {"maven.pom:org.ex:app:1.79.999": "downloaded"}
    assert took < 60  # was 184 s with the loop blocked
    assert lag.worst < 2.0, f"the loop stalled {lag.worst:.2f} s"


@pytest.mark.slow
async def test_fifty_thousand_bad_dependencies_fail_the_pom_once(tmp_path):
    deps = [dependency("org.dep", f"d{i}") for i in range(50_000)]  # no version: unusable
    async with hostile_server() as evil:
        base = add_files(evil, "maven", {
            "org/ex/app/1.0/app-1.0.pom": pom("org.ex", "app", "1.0", dependencies=deps)})
        started = time.monotonic()
        async with LoopLag() as lag:
            run = await explore(MavenRemote(base, ["org.ex:app:1.0"], checksums="ignore"),
                                Store(tmp_path / "store"))
        took = time.monotonic() - started
    error = dict(run.errors)["maven.pom:org.ex:app:1.0"]
    assert error.count("is missing and not managed") == 10 and "and 49990 more" in error
    assert took < 60  # was more than 900 s
    assert lag.worst < 2.0, f"the loop stalled {lag.worst:.2f} s"


async def test_a_parent_chain_of_two_thousand_stops_at_the_limit(tmp_path):
    files = {f"org/ex/p{i}/1/p{i}-1.pom": pom("org.ex", f"p{i}", "1",
                                               parent=("org.ex", f"p{i + 1}", "1"))
             for i in range(2000)}
    async with hostile_server() as evil:
        base = add_files(evil, "maven", files)
        with PeakRSS() as peak:
            run = await explore(MavenRemote(base, ["org.ex:p0:1"], checksums="ignore"),
                                Store(tmp_path / "store"))
    error = dict(run.errors)["maven.pom:org.ex:p0:1"]
    assert "more than 100 parent POMs in a chain (Limits.parent_chain)" in error
    assert len(evil.paths) <= 110  # the chain was not walked to its end
    assert peak.grew < BOUND


async def test_endless_tag_pages_stop_at_the_page_limit(tmp_path):
    config = DownloadConfig(limits=Limits(pages=50))
    async with hostile_server() as evil:
        evil.add("v2/repo/tags/list", endless_pages(page_size=10))
        started = time.monotonic()
        try:
            await explore(OCIRemote(evil.url, "repo", auth=False), Store(tmp_path / "store"),
                          config=config)
        except Exception as exc:
            error = str(exc)
        else:
            error = ""
    assert "the number of pages (51) is more than the limit of 50 (Limits.pages" in error
    assert len(evil.paths) == 50
    assert time.monotonic() - started < 20


async def test_endless_tags_stop_at_the_children_limit(tmp_path):
    config = DownloadConfig(limits=Limits(children=5000))
    async with hostile_server() as evil:
        evil.add("v2/repo/tags/list", endless_pages(page_size=1000))
        try:
            await explore(OCIRemote(evil.url, "repo", auth=False), Store(tmp_path / "store"),
                          config=config)
        except Exception as exc:
            error = str(exc)
        else:
            error = ""
    assert "the number of tags (6000) is more than the limit of 5000 (Limits.children" in error
    assert len(evil.paths) == 6


def _stanzas(count: int) -> bytes:
    compressor = lzma.LZMACompressor(preset=1)
    parts = []
    stanza = ("Package: p{0}\nVersion: 1\nArchitecture: amd64\nFilename: pool/p{0}.deb\n"
              "Size: 1\nSHA256: " + "a" * 64 + "\n\n")
    for start in range(0, count, 10_000):
        block = "".join(stanza.format(i) for i in range(start, min(count, start + 10_000)))
        parts.append(compressor.compress(block.encode()))
    parts.append(compressor.flush())
    return b"".join(parts)


async def test_an_index_of_two_hundred_thousand_stanzas_stops_at_the_unit_limit(tmp_path):
    body = _stanzas(200_000)
    assert len(body) < 1024 * 1024
    indexes = {"main/binary-amd64/Packages.xz": body}
    config = DownloadConfig(limits=Limits(children=1000))
    async with hostile_server() as evil:
        base = add_files(evil, "debian", {
            "dists/stable/Release": release(["main"], ["amd64"], indexes),
            "dists/stable/main/binary-amd64/Packages.xz": body})
        started = time.monotonic()
        run = await explore(DebRemote(base, "stable", release_files=["Release"]),
                            Store(tmp_path / "store"), config=config, policy="metadata-only")
        took = time.monotonic() - started
    found = statuses(run)
    assert found["deb.packages:main:amd64"] == "failed"
    assert "more stanzas than the limit of 1000 (Limits.children)" in \
        dict(run.errors)["deb.packages:main:amd64"]
    assert sum(k.startswith("deb.package:") for k in found) == 1000
    assert took < 20
