"""The fixture Debian archive against the repository format: Release, Packages, pool."""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import hashlib
import io
import lzma
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from debian import deb822, debfile

from stagekit.testing.debian import DebRepo, make_deb_repo
from stagekit.testing.server import Server, serve

INDEXES = [(c, a) for c in ("main", "contrib") for a in ("amd64", "arm64")]


@pytest.fixture(scope="module")
def repo() -> DebRepo:
    return make_deb_repo(packages=10, seed=3)


@pytest.fixture
async def served() -> AsyncIterator[tuple[DebRepo, Server, aiohttp.ClientSession]]:
    repo = make_deb_repo(packages=5, seed=4)
    async with serve(repo) as server, aiohttp.ClientSession() as session:
        yield repo, server, session


def release_entries(text: str, field: str = "SHA256") -> dict[str, tuple[str, int]]:
    release = deb822.Release(text)
    key = "md5sum" if field == "MD5Sum" else "sha256"
    return {e["name"]: (e[key], int(e["size"])) for e in release[field]}


def decompress(path: str, body: bytes) -> bytes:
    if path.endswith(".xz"):
        return lzma.decompress(body)
    return gzip.decompress(body) if path.endswith(".gz") else body


def test_release_has_the_fields_apt_reads(repo: DebRepo) -> None:
    release = deb822.Release(repo.release_text())
    assert release["Suite"] == release["Codename"] == "stable"
    assert release["Architectures"].split() == ["amd64", "arm64"]
    assert release["Components"].split() == ["main", "contrib"]
    assert {"Origin", "Label", "Description", "Date"} <= set(release)
    parsed = email.utils.parsedate_to_datetime(release["Date"])
    assert (parsed.year, parsed.utcoffset().total_seconds()) == (2024, 0)
    assert release["Date"].endswith(" UTC")
    assert repo.entry_path() == "dists/stable/"


def test_release_hashes_and_sizes_match_every_served_file(repo: DebRepo) -> None:
    text = repo.release_text()
    sha_entries, md5_entries = release_entries(text), release_entries(text, "MD5Sum")
    assert set(sha_entries) == set(md5_entries)
    for comp, arch in INDEXES:
        for suffix in ("", ".gz", ".xz"):
            assert f"{comp}/binary-{arch}/Packages{suffix}" in sha_entries
    for name, (sha, size) in sha_entries.items():
        body = repo.files["dists/stable/" + name].body
        assert (hashlib.sha256(body).hexdigest(), len(body)) == (sha, size), name
        assert hashlib.md5(body).hexdigest() == md5_entries[name][0]
    assert "  " in text.split("SHA256:\n")[1].splitlines()[0]  # sizes right-aligned


def test_inrelease_is_the_release_clearsigned_in_form(repo: DebRepo) -> None:
    inrelease = repo.files["dists/stable/InRelease"].body.decode()
    head, _, rest = inrelease.partition("\n\n")
    assert head == "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256"
    signed, _, signature = rest.partition("-----BEGIN PGP SIGNATURE-----\n")
    assert signed == repo.release_text()
    assert signature.rstrip().endswith("-----END PGP SIGNATURE-----")
    assert release_entries(inrelease) == release_entries(repo.release_text())
    assert repo.files["dists/stable/Release.gpg"].body.startswith(b"-----BEGIN PGP SIG")


def test_packages_variants_parse_to_the_same_stanzas(repo: DebRepo) -> None:
    for comp, arch in INDEXES:
        plain = repo.files[repo.index_path(comp, arch)].body
        for variant in ("gz", "xz"):
            path = repo.index_path(comp, arch, variant)
            assert decompress(path, repo.files[path].body) == plain
        stanzas = list(deb822.Packages.iter_paragraphs(io.BytesIO(plain), use_apt_pkg=False))
        assert len(stanzas) == 10
        assert {s["Architecture"] for s in stanzas} == {arch, "all"}
        for s in stanzas:
            assert {"Package", "Version", "Maintainer", "Installed-Size", "Filename", "Size",
                    "MD5sum", "SHA256", "Description"} <= set(s)
            assert s["Filename"].startswith(f"pool/{comp}/")
        assert any("Depends" in s for s in stanzas)
        assert any(":" in s["Version"] for s in stanzas)  # an epoch, dropped from the file


def test_package_files_match_their_stanzas_and_are_real_debs(repo: DebRepo) -> None:
    seen = 0
    for comp, arch in INDEXES:
        plain = repo.files[repo.index_path(comp, arch)].body
        for s in deb822.Packages.iter_paragraphs(io.BytesIO(plain), use_apt_pkg=False):
            body = repo.files[s["Filename"]].body
            assert len(body) == int(s["Size"])
            assert hashlib.sha256(body).hexdigest() == s["SHA256"]
            assert hashlib.md5(body).hexdigest() == s["MD5sum"]
            source = s.get("Source", s["Package"])
            prefix = source[:4] if source.startswith("lib") else source[0]
            version = s["Version"].split(":", 1)[-1]
            assert s["Filename"] == (f"pool/{comp}/{prefix}/{source}/"
                                     f"{s['Package']}_{version}_{s['Architecture']}.deb")
            control = debfile.DebFile(fileobj=io.BytesIO(body)).debcontrol()
            assert (control["Package"], control["Version"], control["Architecture"]) == (
                s["Package"], s["Version"], s["Architecture"])
            assert body.startswith(b"!<arch>\ndebian-binary   ")
            seen += 1
    assert seen == 40


def test_arch_all_packages_are_one_file_listed_in_every_arch_index(repo: DebRepo) -> None:
    all_files = {comp: {p.filename for (c, _), ps in repo.packages.items() if c == comp
                        for p in ps if p.architecture == "all"} for comp in ("main", "contrib")}
    for comp, arch in INDEXES:
        listed = {p.filename for p in repo.packages[(comp, arch)] if p.architecture == "all"}
        assert listed == all_files[comp] and listed
    key = next(p.key for p in repo.packages[("main", "amd64")] if p.architecture == "all")
    parents = {p for p, c, _ in repo.expected.edges if c == key}
    assert parents == {"deb.packages:main:amd64", "deb.packages:main:arm64"}


def test_expected_units_and_edges_describe_the_archive(repo: DebRepo) -> None:
    expected = repo.expected
    root = expected.units["deb.release:stable"]
    assert (root.kind, root.depth, root.artifacts[0].relative_path) == (
        "deb.release", 0, "dists/stable/Release")
    entries = release_entries(repo.release_text())
    for comp, arch in INDEXES:
        unit = expected.units[f"deb.packages:{comp}:{arch}"]
        (artifact,) = unit.artifacts
        assert (unit.depth, artifact.url_path) == (1, repo.index_path(comp, arch, "xz"))
        assert (artifact.sha256, artifact.size) == entries[
            f"{comp}/binary-{arch}/Packages.xz"]
        assert ("deb.release:stable", unit.key, "index") in expected.edges
    packages = [u for u in expected.units.values() if u.kind == "deb.package"]
    stanzas = {p.key: p for ps in repo.packages.values() for p in ps}
    assert {u.key for u in packages} == set(stanzas)
    for unit in packages:
        (artifact,) = unit.artifacts
        package = stanzas[unit.key]
        assert unit.depth == 2 and artifact.deferred
        assert artifact.relative_path == artifact.url_path == package.filename
        assert hashlib.sha256(repo.files[package.filename].body).hexdigest() == artifact.sha256
        assert unit.key == f"deb.package:{package.name}:{package.version}:{package.architecture}"
    assert len(expected.edges) == 4 + sum(len(ps) for ps in repo.packages.values())


def test_variants_choose_what_is_served_and_release_still_lists_plain() -> None:
    repo = make_deb_repo(components=["main"], architectures=["amd64"], variants=("gz",))
    assert repo.index_path("main", "amd64") not in repo.files
    entries = release_entries(repo.release_text())
    assert set(e for e in entries if "Packages" in e) == {
        "main/binary-amd64/Packages", "main/binary-amd64/Packages.gz"}
    gz = repo.files[repo.index_path("main", "amd64", "gz")].body
    assert hashlib.sha256(gzip.decompress(gz)).hexdigest() == entries[
        "main/binary-amd64/Packages"][0]
    assert repo.expected.units["deb.packages:main:amd64"].artifacts[0].url_path.endswith(".gz")
    quiet = make_deb_repo(variants=("xz",), release_lists_plain=False, with_debs=False)
    assert not any(e.endswith("/Packages") for e in release_entries(quiet.release_text()))
    assert not any(path.endswith(".deb") for path in quiet.files)


def test_corrupt_variant_breaks_only_that_file(repo: DebRepo) -> None:
    repo = make_deb_repo(packages=4, seed=5)
    repo.corrupt_variant("main", "amd64", "xz")
    entries = release_entries(repo.release_text())
    bad = repo.files[repo.index_path("main", "amd64", "xz")].body
    assert hashlib.sha256(bad).hexdigest() != entries["main/binary-amd64/Packages.xz"][0]
    assert len(bad) == entries["main/binary-amd64/Packages.xz"][1]
    gz = repo.files[repo.index_path("main", "amd64", "gz")].body
    assert hashlib.sha256(gz).hexdigest() == entries["main/binary-amd64/Packages.gz"][0]


def test_release_mismatch_all_and_truncation_break_every_variant() -> None:
    repo = make_deb_repo(packages=4, seed=6)
    repo.release_mismatch_all("contrib", "arm64")
    repo.truncate_packages("main", "amd64", keep=0.5)
    entries = release_entries(repo.release_text())
    for variant, suffix in (("xz", ".xz"), ("gz", ".gz"), ("plain", "")):
        for comp, arch in (("contrib", "arm64"), ("main", "amd64")):
            body = repo.files[repo.index_path(comp, arch, variant)].body
            sha, size = entries[f"{comp}/binary-{arch}/Packages{suffix}"]
            assert hashlib.sha256(body).hexdigest() != sha
            if comp == "main":
                assert len(body) == size // 2


def test_drop_sha256_rewrites_index_and_release_consistently() -> None:
    repo = make_deb_repo(packages=6, seed=8)
    name = repo.packages[("main", "amd64")][2].name
    assert repo.drop_sha256(name) == 2
    entries = release_entries(repo.release_text())
    for arch in ("amd64", "arm64"):
        path = repo.index_path("main", arch, "xz")
        body = repo.files[path].body
        assert hashlib.sha256(body).hexdigest() == entries[f"main/binary-{arch}/Packages.xz"][0]
        stanzas = deb822.Packages.iter_paragraphs(io.BytesIO(lzma.decompress(body)),
                                                  use_apt_pkg=False)
        without = [s["Package"] for s in stanzas if "SHA256" not in s]
        assert without == [name]
        assert repo.expected.units[f"deb.packages:main:{arch}"].artifacts[0].sha256 == \
            hashlib.sha256(body).hexdigest()


async def test_served_archive_answers_release_indexes_and_debs(served) -> None:
    repo, server, session = served
    async with asyncio.timeout(10):
        async with session.get(server.url + repo.entry_path() + "Release") as resp:
            release = await resp.text()
        entries = release_entries(release)
        for name, (sha, size) in entries.items():
            if name.endswith("/Packages") and "plain" not in repo.variants:
                continue
            async with session.get(server.url + repo.entry_path() + name) as resp:
                body = await resp.read()
            assert (hashlib.sha256(body).hexdigest(), len(body)) == (sha, size), name
        path = repo.packages[("main", "amd64")][0].filename
        async with session.get(server.url + path, headers={"Range": "bytes=0-7"}) as resp:
            assert (resp.status, await resp.read()) == (206, b"!<arch>\n")


@pytest.mark.timeout(60)
def test_sixty_thousand_stanzas_generate_in_seconds() -> None:
    started = time.monotonic()
    repo = make_deb_repo(components=["main"], architectures=["amd64"], n_packages=60_000,
                         with_debs=False)
    elapsed = time.monotonic() - started
    plain = repo.files[repo.index_path("main", "amd64")].body
    assert plain.count(b"\nPackage: ") + plain.startswith(b"Package: ") == 60_000
    assert len(repo.expected.units) == 60_000 + 2
    xz = repo.files[repo.index_path("main", "amd64", "xz")].body
    assert hashlib.sha256(xz).hexdigest() == release_entries(repo.release_text())[
        "main/binary-amd64/Packages.xz"][0]
    assert not any(path.endswith(".deb") for path in repo.files)
    print(f"60,000 stanzas in {elapsed:.1f} s")  # informative only: speed is not asserted
