"""Bad remote metadata: each bad line or path is a clear per-unit error naming the URL and
the field, the good units still arrive, and no file lands outside the store.

The remote-specific cases (POM XML, an entity bomb, Packages, deb822, OCI) live in
test_bad_remote_metadata.py.
"""

from __future__ import annotations

import hashlib

import pytest

from stagekit.errors import UnsafePathError
from stagekit.models import DeclarativeArtifact, DeclarativeContent
from stagekit.remotes.file import FileRemote
from stagekit.storage import Store
from stagekit.testing import make_file_repo, serve
from stagekit.testing.repo import Repo, StaticFile
from tests.faults.support import (
    Item,
    ListRemote,
    TreeRemote,
    assert_store_sound,
    explore,
    files_outside,
    key,
    statuses,
)

pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.timeout(60)]

SHA = hashlib.sha256(b"x").hexdigest()

# line -> what the error must say about the field
BAD_LINES = {
    "no-commas": "3 comma-separated fields",
    f"a,b,{SHA},1": "3 comma-separated fields",
    "bad-digest,nothex,3": "sha256 'nothex'",
    f"bad-size,{SHA},big": "size 'big'",
    f"neg-size,{SHA},-1": "size -1",
    f"../escape,{SHA},1": "'..' segment",
    f"dir/../../escape,{SHA},1": "'..' segment",
    f"/etc/passwd,{SHA},1": "is absolute",
    f"C:/windows/x,{SHA},1": "is absolute",
    f"nul\x00byte,{SHA},1": "NUL byte",
    f"back\\slash,{SHA},1": "backslash",
    f"..\\..\\escape,{SHA},1": "backslash",
    f"a/./b,{SHA},1": "'.' segment",
    f"a//b,{SHA},1": "'empty' segment",
    f",{SHA},1": "non-empty",
}


async def test_manifest_bad_lines_are_per_line_errors_naming_url_line_and_field(tmp_path):
    repo = make_file_repo(6, seed=2, bad_lines=BAD_LINES)
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        manifest = server.url_for(repo.entry_path())
        run = await explore(FileRemote(manifest), store)
    errors = dict(run.errors)
    assert len(errors) == len(BAD_LINES)
    for number, (line, field) in enumerate(BAD_LINES.items(), start=7):
        error = errors[f"file:{manifest}#line{number}"]
        assert manifest in error and f"line {number}" in error, error
        assert field in error, (line, error)
    found = statuses(run)
    assert [found[k] for k in repo.expected.units] == ["downloaded"] * 6
    assert run.status == "finished"
    assert files_outside(tmp_path, [store.path]) == []
    assert_store_sound(store)


async def test_manifest_that_is_not_text_fails_every_line_but_not_the_run(tmp_path):
    repo = Repo({"PULP_MANIFEST": StaticFile(bytes(range(256)) * 4)})
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        run = await explore(FileRemote(server.url_for("PULP_MANIFEST")), store)
    assert run.errors and all("PULP_MANIFEST line" in e for _, e in run.errors)
    assert run.status == "finished"
    assert files_outside(tmp_path, [store.path]) == []


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("../../outside", "'..' segment"),
        ("/tmp/absolute", "is absolute"),
        ("nul\x00", "NUL byte"),
        ("dir\\file", "backslash"),
        ("", "non-empty"),
    ],
    ids=["dotdot", "absolute", "nul", "backslash", "empty"],
)
async def test_unsafe_path_from_a_plugin_fails_the_parent_unit_naming_url_and_field(
    tmp_path, path, field
):
    remote_url = "http://127.0.0.1:9/children/evil"

    def build(name):
        if name == "evil":
            return [DeclarativeArtifact(remote_url, path)]
        return []

    store = Store(tmp_path / "store")
    remote = TreeRemote({"r": ["good", "evil"]}, ["r"], build)
    run = await explore(remote, store)
    (unit, error), = run.errors
    assert unit == key("r")
    assert field in error and "relative_path" in error
    assert remote_url in error, error  # which remote-provided artifact was refused
    assert statuses(run)[key("good")] == "downloaded"
    assert files_outside(tmp_path, [store.path]) == []


@pytest.mark.parametrize("path", ["../x", "/x", "a\x00b", "a\\b"])
def test_declarative_artifact_refuses_unsafe_paths(path):
    with pytest.raises(UnsafePathError):
        DeclarativeArtifact("http://127.0.0.1:9/x", path)


@pytest.mark.parametrize("digest", ["../../etc/passwd", "0" * 63, "g" * 64, "0" * 64 + "/.."])
def test_declarative_artifact_refuses_a_digest_that_could_be_a_path(digest):
    with pytest.raises(ValueError, match="not a valid hex digest"):
        DeclarativeArtifact("http://127.0.0.1:9/x", "x", digests={"sha256": digest})


@pytest.mark.parametrize(
    "suffix",
    ["a%00b", "a\\..\\..\\b", "a b", "..%2f..%2fetc", "a\r\nX-Injected: yes"],
    ids=["pct-nul", "backslash", "space", "pct-slash", "crlf"],
)
async def test_odd_remote_provided_urls_fail_cleanly_or_stay_on_the_server(tmp_path, suffix):
    """URLs are the remote's; whatever they hold, a request goes to the server or the
    unit fails with an error; no header is injected and nothing lands outside the store."""
    repo = Repo({"ok": StaticFile(b"fine")})
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        odd = server.url + suffix

        def build(name):
            url = odd if name == "odd" else server.url_for("ok")
            return [DeclarativeArtifact(url, name)]

        run = await explore(ListRemote(["odd", "ok"], build), store)
        injected = [r for r in server.counters.log if "X-Injected" in r.path]
    assert statuses(run)[key("ok")] == "downloaded"
    assert statuses(run)[key("odd")] == "failed"
    assert not injected or all(r.status == 404 for r in injected)
    assert files_outside(tmp_path, [store.path]) == []
    assert_store_sound(store)


async def test_remote_provided_file_url_is_refused_after_a_redirect(tmp_path):
    """An HTTP remote cannot make stagekit read local files by redirecting to file://."""
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"local secret")

    async def handler(request):
        from aiohttp import web

        raise web.HTTPFound(secret.as_uri())

    class Redirecting(Repo):
        def add_routes(self, app):
            app.router.add_get("/to-file", handler)

    store = Store(tmp_path / "store")
    async with serve(Redirecting()) as server:
        url = server.url_for("to-file")
        run = await explore(ListRemote(["x"], lambda n: [DeclarativeArtifact(url, n)]), store)
    (_, error), = run.errors
    assert "refused redirect" in error
    assert b"local secret" not in b"".join(p.read_bytes() for p in store.artifacts_dir.rglob("*")
                                           if p.is_file())


def test_content_with_unsafe_natural_key_is_only_a_key_never_a_path(tmp_path):
    """Natural keys are catalog keys, not paths: '../x' is stored as text only."""
    dc = DeclarativeContent(Item("../../x"), [])
    assert dc.key == "fault.item:../../x"
