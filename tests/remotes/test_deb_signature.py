"""Signed Debian metadata: DebRemote(keyring=...) checks InRelease / Release.gpg (issue 13)."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

import stagekit
from stagekit.download import DownloadConfig
from stagekit.errors import SignatureError
from stagekit.remotes.deb import DebRemote
from stagekit.remotes.deb_signature import UNVERIFIED, verify_release
from stagekit.storage import Store
from stagekit.testing.debian import TAMPERINGS, DebRepo, make_deb_repo
from stagekit.testing.debian_signing import gpg_available, signing_keys
from stagekit.testing.server import serve

TIMEOUT = 60
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.02, read_timeout=5.0)

pytestmark = pytest.mark.skipif(
    not gpg_available() and os.environ.get("CI") != "true",
    reason="needs gpg and gpgv (Debian packages gpg, gpgv); CI must have them")


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return signing_keys().write_keyring(tmp_path_factory.mktemp("keys") / "archive.gpg")


def signed_repo(seed: int, *, only_release: bool = False) -> DebRepo:
    repo = make_deb_repo(packages=3, expected_release="Release" if only_release else "InRelease",
                         seed=seed, signed=True)
    return repo


async def explore(remote: DebRemote, store: Path) -> stagekit.Run:
    async with asyncio.timeout(TIMEOUT):
        return await stagekit.explore(remote, store=store, download_config=FAST,
                                      policy="metadata-only")


@pytest.mark.parametrize("release_file", ["InRelease", "Release"])
async def test_a_well_signed_archive_is_explored_and_says_who_signed(
        tmp_path: Path, keyring: Path, release_file: str) -> None:
    repo = signed_repo(11, only_release=release_file == "Release")
    if release_file == "Release":
        del repo.files["dists/stable/InRelease"]
    async with serve(repo) as server:
        run = await explore(DebRemote(server.url, "stable", keyring=keyring), tmp_path / "s")
        gpg_fetched = server.counters.count("dists/stable/Release.gpg")
    assert run.errors == []
    assert set(run.to_dataframe()["key"]) == set(repo.expected.units)
    assert gpg_fetched == (1 if release_file == "Release" else 0)
    with Store(tmp_path / "s", readonly=True) as store:
        release = store.catalog.existing_contents(["deb.release:stable"])["deb.release:stable"]
    assert release["fields"]["signature"] == f"verified:{signing_keys().fingerprint()}"


@pytest.mark.parametrize("how", TAMPERINGS)
@pytest.mark.parametrize("release_file", ["InRelease", "Release"])
async def test_a_tampered_release_fails_and_nothing_under_it_is_fetched(
        tmp_path: Path, keyring: Path, how: str, release_file: str) -> None:
    repo = signed_repo(12)
    repo.tamper_signature(how)
    if release_file == "Release":
        del repo.files["dists/stable/InRelease"]
    async with serve(repo) as server:
        run = await explore(DebRemote(server.url, "stable", keyring=keyring), tmp_path / "s")
        paths = {p for p in server.counters.by_path if server.counters.count(p)}
        url = server.url_for(f"dists/stable/{release_file}")
    assert [key for key, _ in run.errors] == ["deb.release:stable"]
    error = run.errors[0][1]
    assert url in error
    want = {
        "bad-signature": "bad signature (BADSIG)",
        "missing-signature": ("not exactly one clearsigned message" if release_file == "InRelease"
                              else "no signature"),
        "other-key": "signed by a key that is not in the keyring",
        "modified": "bad signature (BADSIG)",
    }[how]
    assert want in error and "nothing it lists is fetched" in error
    assert paths <= {"dists/stable/InRelease", "dists/stable/Release", "dists/stable/Release.gpg"}
    assert not any("Packages" in p for p in paths)
    with Store(tmp_path / "s", readonly=True) as store:
        assert store.catalog.existing_contents(["deb.release:stable"]) == {}
        assert not any(p.is_file() for p in store.artifacts_dir.rglob("*"))


async def test_without_a_keyring_it_works_and_says_once_that_it_is_unverified(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    repo = signed_repo(13)
    repo.tamper_signature("bad-signature")  # nobody checks: apt would refuse, we warn
    async with serve(repo) as server:
        with caplog.at_level(logging.WARNING, logger="stagekit.remotes.deb_signature"):
            run = await explore(DebRemote(server.url, "stable"), tmp_path / "s")
    assert run.errors == []
    warnings = [r.getMessage() for r in caplog.records if "unverified" in r.getMessage()]
    assert len(warnings) == 1 and "dists/stable/InRelease" in warnings[0]
    with Store(tmp_path / "s", readonly=True) as store:
        release = store.catalog.existing_contents(["deb.release:stable"])["deb.release:stable"]
    assert release["fields"]["signature"] == UNVERIFIED


async def test_an_armored_keyring_works_and_a_missing_one_is_refused(tmp_path: Path) -> None:
    asc = signing_keys().write_keyring(tmp_path / "archive.asc", armor=True)
    text = b"Origin: x\nSuite: y\n"
    signed = await verify_release("InRelease", signing_keys().clearsign(text), keyring=asc,
                                  where="test")
    assert signed.text == text and signed.signed_by == signing_keys().fingerprint()
    with pytest.raises(SignatureError, match=r"keyring .*nope.gpg does not exist"):
        DebRemote("http://127.0.0.1:1/", "stable", keyring=tmp_path / "nope.gpg")


async def test_text_outside_the_clearsigned_message_is_refused(keyring: Path) -> None:
    genuine = signing_keys().clearsign(b"Origin: x\nSuite: y\n")
    for hostile in [b"Components: evil\n\n" + genuine, genuine + b"\nComponents: evil\n",
                    genuine + genuine]:
        with pytest.raises(SignatureError, match="not exactly one clearsigned message"):
            await verify_release("InRelease", hostile, keyring=keyring, where="test")
