"""The flat file repo generator: deterministic files and a PULP_MANIFEST that describes them."""

from __future__ import annotations

import asyncio
import hashlib

import aiohttp

from stagekit.testing import make_file_repo, serve
from stagekit.testing.file import manifest_line


def manifest_rows(repo) -> list[list[str]]:
    text = repo.files[repo.entry_path()].body.decode()
    return [line.split(",") for line in text.splitlines()]


def test_manifest_lines_match_the_files_digests_and_sizes():
    repo = make_file_repo(12, size=(10, 5000), seed=4, subdirs=3)
    rows = manifest_rows(repo)
    assert len(rows) == 12
    for relative_path, sha256, size in rows:
        body = repo.files[relative_path].body
        assert hashlib.sha256(body).hexdigest() == sha256
        assert len(body) == int(size)
        assert 10 <= len(body) <= 5000
    assert {p.split("/")[0] for p, _, _ in rows} == {"dir0", "dir1", "dir2"}
    assert len(repo.files) == 13


def test_same_seed_same_repo_and_other_seed_other_bytes():
    one, two = make_file_repo(5, seed=1), make_file_repo(5, seed=1)
    other = make_file_repo(5, seed=2)
    assert {p: f.body for p, f in one.files.items()} == {p: f.body for p, f in two.files.items()}
    assert one.files.keys() == other.files.keys()
    assert one.files["PULP_MANIFEST"].body != other.files["PULP_MANIFEST"].body


def test_expected_has_one_file_unit_per_manifest_line_and_no_edges():
    repo = make_file_repo(4, size=100, seed=9)
    assert repo.expected.edges == set()
    assert set(repo.expected.units) == {f"file:{row[0]}" for row in manifest_rows(repo)}
    for relative_path, sha256, size in manifest_rows(repo):
        unit = repo.expected.units[f"file:{relative_path}"]
        assert (unit.kind, unit.depth) == ("file", 0)
        [artifact] = unit.artifacts
        assert (artifact.relative_path, artifact.sha256, artifact.size, artifact.url_path) == (
            relative_path, sha256, int(size), relative_path)


def test_prefix_puts_manifest_and_files_under_it_with_relative_paths():
    repo = make_file_repo(3, prefix="content/files", subdirs=0)
    assert repo.entry_path() == "content/files/PULP_MANIFEST"
    for relative_path, _, _ in manifest_rows(repo):
        assert "/" not in relative_path
        assert "content/files/" + relative_path in repo.files
        unit = repo.expected.units[f"file:{relative_path}"]
        assert unit.artifacts[0].url_path == "content/files/" + relative_path


def test_bad_lines_are_appended_verbatim_and_expect_nothing():
    bad = ["no-commas", "a,nothex,3", "../escape," + "0" * 64 + ",1"]
    repo = make_file_repo(2, bad_lines=bad)
    lines = repo.files["PULP_MANIFEST"].body.decode().splitlines()
    assert lines[2:] == bad
    assert len(repo.expected.units) == 2


def test_manifest_line_is_path_sha256_size():
    assert manifest_line("a/b", b"abc") == (
        "a/b,ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad,3")


async def test_served_manifest_leads_to_files_with_those_digests():
    repo = make_file_repo(8, size=(0, 3000), seed=5, prefix="r/")
    async with asyncio.timeout(10), serve(repo) as server, aiohttp.ClientSession() as client:
        async with client.get(server.url_for(repo.entry_path())) as resp:
            rows = [line.split(",") for line in (await resp.text()).splitlines()]
        base = server.url_for(repo.entry_path()).rsplit("/", 1)[0] + "/"
        for relative_path, sha256, size in rows:
            async with client.get(base + relative_path) as resp:
                data = await resp.read()
            assert (hashlib.sha256(data).hexdigest(), len(data)) == (sha256, int(size))
    assert server.counters.total == 9
