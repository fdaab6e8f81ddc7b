"""The PyPI fixture generator and the server's content negotiation (Accept) it relies on."""

from __future__ import annotations

import hashlib
import json
import tarfile
import zipfile
from io import BytesIO

import aiohttp
import pytest

from stagekit.testing import serve
from stagekit.testing.pypi import JSON_TYPE, make_pypi_repo
from stagekit.testing.repo import Repo, StaticFile
from stagekit.testing.server import negotiate

HTML = StaticFile(b"<html></html>", "text/html")
JSON = StaticFile(b"{}", JSON_TYPE)
BOTH = StaticFile(HTML.body, HTML.content_type, variants=(JSON,))


@pytest.mark.parametrize(("accept", "chosen"), [
    (None, HTML), ("", HTML), ("*/*", HTML), ("text/html", HTML),
    (f"{JSON_TYPE}, text/html;q=0.01", JSON), (f"text/html;q=0.5, {JSON_TYPE};q=0.9", JSON),
    ("application/*", JSON), (f"{JSON_TYPE};q=0, text/*", HTML), ("image/png", None),
])
def test_negotiate_picks_the_preferred_representation(accept, chosen):
    picked = negotiate(BOTH, accept)
    assert (picked and picked.content_type) == (chosen and chosen.content_type)


async def test_server_serves_variants_by_accept_with_vary_and_406():
    repo = Repo({"page/": BOTH})
    async with serve(repo) as server, aiohttp.ClientSession() as session:
        async with session.get(server.url_for("page/"), headers={"Accept": JSON_TYPE}) as r:
            assert (r.status, r.content_type, await r.read()) == (200, JSON_TYPE, b"{}")
            assert r.headers["Vary"] == "Accept"
            json_etag = r.headers["ETag"]
        async with session.get(server.url_for("page/")) as r:
            assert (r.content_type, await r.read()) == ("text/html", HTML.body)
            assert r.headers["ETag"] != json_etag
        async with session.get(server.url_for("page/"), headers={"Accept": "image/png"}) as r:
            assert r.status == 406


@pytest.mark.parametrize("formats", ["both", "html", "json"])
async def test_pages_link_every_file_with_its_digest(formats):
    repo = make_pypi_repo(yanked=True, formats=formats)
    async with serve(repo) as server, aiohttp.ClientSession() as session:
        headers = {"Accept": f"{JSON_TYPE}, text/html;q=0.1"}
        async with session.get(server.url_for("simple/yk-lib/"), headers=headers) as r:
            body, kind = await r.read(), r.content_type
        assert kind == ("text/html" if formats == "html" else JSON_TYPE)
        for filename in ("yk_lib-1.0-py3-none-any.whl", "yk_lib-2.0.tar.gz"):
            data = repo.files[f"packages/yk-lib/{filename}"].body
            assert hashlib.sha256(data).hexdigest().encode() in body
        if kind == JSON_TYPE:
            page = json.loads(body)
            yanked = {f["filename"]: f.get("yanked", False) for f in page["files"]}
            assert yanked["yk_lib-2.0.tar.gz"] == "broken build"
            assert page["versions"] == ["1.0", "2.0"] and page["meta"]["api-version"] == "1.1"
        else:
            assert b'data-yanked="broken build"' in body
        async with session.get(server.url_for("simple/Mk_Display.Name/"),
                               allow_redirects=False) as r:
            assert r.status == 404  # no such alias without the markers scenario


async def test_non_normalized_names_redirect_and_metadata_matches_wheel():
    repo = make_pypi_repo(markers=True)
    async with serve(repo) as server, aiohttp.ClientSession() as session:
        async with session.get(server.url_for("simple/Mk_Display.Name/"),
                               allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (301, "/simple/mk-display-name/")
    wheel = repo.files["packages/mk-lib/mk_lib-2.0-py3-none-any.whl"].body
    with zipfile.ZipFile(BytesIO(wheel)) as zf:
        inside = zf.read("mk_lib-2.0.dist-info/METADATA")
    assert repo.files["packages/mk-lib/mk_lib-2.0-py3-none-any.whl.metadata"].body == inside
    assert b"Requires-Dist: mk-leaf" in inside


def test_sdists_hold_pkg_info_and_no_metadata_mode_offers_none():
    repo = make_pypi_repo(sdists=True, metadata_files=False)
    assert not [p for p in repo.files if p.endswith(".metadata")]
    with tarfile.open(fileobj=BytesIO(repo.files["packages/sd-old/sd_old-1.0.tar.gz"].body)) as tf:
        pkg = tf.extractfile("sd_old-1.0/PKG-INFO").read()
    assert b"Metadata-Version: 2.1" in pkg and b"Requires-Dist: sd-hidden" in pkg
    assert repo.unknown == {"pypi.release:sd-old:1.0", "pypi.release:sd-dyn:1.0"}


def test_same_arguments_give_the_same_bytes_and_a_tree_of_the_asked_size():
    one, two = make_pypi_repo(n_releases=60, seed=4), make_pypi_repo(n_releases=60, seed=4)
    assert {p: f.body for p, f in one.files.items()} == {p: f.body for p, f in two.files.items()}
    assert len(one.expected.units) == 60
    assert sum(p.endswith(".whl") for p in one.files) == 120  # two versions per project
