"""PyPIRemote end to end: generated indexes with a known answer, through the pipeline."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import zipfile

import pytest

import stagekit
from stagekit.download import DownloadConfig
from stagekit.errors import ConfigurationError
from stagekit.remotes.pypi import PyPIRemote
from stagekit.storage import Store
from stagekit.testing import assert_run_matches, serve
from stagekit.testing.pypi import JSON_TYPE, PyPIRepoBuilder, all_scenarios, make_pypi_repo
from stagekit.testing.pypi_dists import core_metadata
from stagekit.testing.repo import StaticFile

TIMEOUT = 60
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.05, read_timeout=5.0, tries=2)
R = "pypi.release:"


async def explore(server, repo, store, roots=None, **options):
    remote = PyPIRemote(server.url_for(repo.entry_path()), repo.roots if roots is None else roots,
                        **options.pop("remote", {}))
    async with asyncio.timeout(TIMEOUT):
        return await stagekit.explore(remote, store=store, download_config=FAST, **options)


def edges_of(run):
    return {(p, c, d["relation"]) for p, c, d in run.graph.edges(data=True)}


def depths_of(run):
    return {k: d["depth"] for k, d in run.graph.nodes(data=True)}


def assert_found_as_expected(run, repo, policy):
    assert_run_matches(run, repo.expected, policy=policy)
    assert run.artifacts_dataframe()["verified"].all()


# The answer of the scenarios, written out by hand (the generator computes the same).
SCENARIO_EDGES = {
    (R + "mk-app:1.0", R + "mk-lib:2.0", "mk-lib>=1.1"),
    (R + "mk-app:1.0", R + "mk-any:3.0", 'mk-any; python_version >= "3"'),
    (R + "mk-app:1.0", R + "mk-display-name:1.0", "Mk_Display.Name"),
    (R + "mk-lib:2.0", R + "mk-leaf:0.1", "mk-leaf"),
    (R + "ex-root:1.0", R + "ex-b:1.0", "ex-b[x]>=1"),
    (R + "ex-root:1.0", R + "ex-c:1.0", "ex-c"),
    (R + "ex-c:1.0", R + "ex-b:1.0", "ex-b[y]"),
    (R + "ex-b:1.0", R + "ex-d:1.0", 'ex-d; extra == "x"'),
    (R + "ex-b:1.0", R + "ex-e:1.0", 'ex-e; extra == "y"'),
    (R + "ex-b:1.0", R + "ex-g:1.0", "ex-g"),
    (R + "cy-a:1.0", R + "cy-b:1.0", "cy-b"),
    (R + "cy-b:1.0", R + "cy-c:1.0", "cy-c"),
    (R + "cy-c:1.0", R + "cy-a:1.0", "cy-a>=1"),
    (R + "yk-root:1.0", R + "yk-lib:1.0", "yk-lib"),
    (R + "yk-root:1.0", R + "yk-pin:3.0", "yk-pin==3.0"),
    (R + "pre-root:1.0", R + "pre-lib:1.0", "pre-lib"),
    (R + "pre-root:1.0", R + "pre-only:1.0a1", "pre-only"),
    (R + "pre-root:1.0", R + "pre-asked:2.0b2", "pre-asked>=2.0b1"),
    (R + "rp-root:1.0", R + "rp-lib:1.0", "rp-lib"),
    (R + "sup-a:1.0", R + "sup-b:1.0", "sup-b"),
    (R + "sup-a:1.0", R + "sup-c:2.0", "sup-c>=1"),
    (R + "sup-b:1.0", R + "sup-c:1.0", "sup-c<2"),
    (R + "sup-a:1.0", R + "sup-c:1.0", "sup-c>=1"),  # re-pointed once sup-b narrowed sup-c
    (R + "con-a:1.0", R + "con-b:1.0", "con-b"),
    (R + "con-a:1.0", R + "con-c:1.0", "con-c==1.0"),
    (R + "con-b:1.0", R + "con-c:2.0", "con-c==2.0"),
    (R + "sd-root:1.0", R + "sd-new:1.0", "sd-new"),
    (R + "sd-root:1.0", R + "sd-old:1.0", "sd-old"),
    (R + "sd-root:1.0", R + "sd-dyn:1.0", "sd-dyn"),
    (R + "sd-new:1.0", R + "sd-leaf:1.0", "sd-leaf"),
}
ROOTS = ("mk-app", "ex-root", "cy-a", "yk-root", "pre-root", "rp-root", "sup-a", "con-a",
         "sd-root")
DEPTH_2 = ("mk-leaf:0.1", "ex-d:1.0", "ex-e:1.0", "ex-g:1.0", "cy-c:1.0", "con-c:2.0",
           "sd-leaf:1.0")


def test_generator_answer_is_the_hand_written_one():
    repo = all_scenarios()
    assert repo.expected.edges == SCENARIO_EDGES
    depths = repo.expected.depths()
    assert {k for k, d in depths.items() if d == 0} == {f"{R}{r}:1.0" for r in ROOTS}
    assert {k for k, d in depths.items() if d == 2} == {R + k for k in DEPTH_2}
    assert max(depths.values()) == 2
    assert repo.unknown == {R + "sd-old:1.0", R + "sd-dyn:1.0"}
    # The chosen releases alone: all but the superseded sup-c 2.0 and its edge.
    assert repo.chosen.edges == SCENARIO_EDGES - {(R + "sup-a:1.0", R + "sup-c:2.0", "sup-c>=1")}
    assert repo.chosen.depths == {k: d for k, d in depths.items() if k != R + "sup-c:2.0"}


@pytest.mark.parametrize("policy", ["metadata-only", "immediate"])
@pytest.mark.parametrize("mode", [{}, {"formats": "html"}, {"formats": "json"},
                                  {"metadata_files": False}],
                         ids=["both", "html-only", "json-only", "no-metadata-files"])
async def test_scenarios_are_discovered_exactly(mode, policy, tmp_path):
    repo = all_scenarios(**mode)
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        run = await explore(server, repo, store, policy=policy)
        requested = dict(server.counters.by_path)
    assert edges_of(run) == SCENARIO_EDGES
    assert_found_as_expected(run, repo, policy)
    pages = [p for p in requested if p.startswith("simple/")]
    assert pages and all(requested[p] == 1 for p in pages), "a project page was fetched twice"
    dists = [p for p in requested if p.endswith((".whl", ".tar.gz"))]
    if policy == "immediate":
        for unit in repo.expected.units.values():
            for art in unit.artifacts:
                body = store.artifact_path(art.sha256).read_bytes()
                assert hashlib.sha256(body).hexdigest() == art.sha256
    elif mode.get("metadata_files", True):
        assert dists == [] or all(p.endswith(".tar.gz") for p in dists)
    else:  # wheels read for METADATA only, one (range) request each at this size
        assert {p for p in dists if p.endswith(".whl")} and all(requested[p] == 1 for p in dists)
    metadata_requests = [p for p in requested if p.endswith(".metadata")]
    assert bool(metadata_requests) == mode.get("metadata_files", True)


async def test_table_names_versions_requirements_and_conflicts(tmp_path):
    repo = all_scenarios()
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only")
    frame = run.to_dataframe().set_index("key")
    assert frame.loc[R + "mk-display-name:1.0", ["name", "version", "requirement"]].tolist() == [
        "mk-display-name", "1.0", R + "mk-app:1.0: Mk_Display.Name"]
    assert frame.loc[R + "ex-root:1.0", "requirement"] == "root: ex-root"
    assert frame.loc[R + "rp-lib:1.0", "requires_python"] == ">=3.8"
    conflicts = frame["conflict"].dropna()
    assert set(conflicts.index) == {R + "con-c:1.0", R + "con-c:2.0"}
    assert "con-c==1.0" in conflicts.iloc[0] and "con-c==2.0" in conflicts.iloc[0]
    assert frame["superseded_by"].dropna().to_dict() == {R + "sup-c:2.0": "1.0"}
    assert set(frame.index[~frame["chosen"]]) == {R + "sup-c:2.0"}
    assert frame["chosen_depth"].dropna().to_dict() == repo.chosen.depths
    known = frame["dependencies_known"]
    assert set(known[~known].index) == {R + "sd-old:1.0", R + "sd-dyn:1.0"}
    assert frame.loc[R + "ex-b:1.0", "parents"] == 2


async def test_max_depth_limits_exploration(tmp_path):
    repo = all_scenarios()
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only",
                            max_depth=1)
    depths = depths_of(run)
    assert max(depths.values()) == 1
    # sup-b (depth 1) is not explored, so its sup-c<2 never narrows sup-c: 2.0 stays.
    within = {k for k, d in repo.expected.depths().items() if d <= 1}
    assert set(depths) == within - {R + "sup-c:1.0"} | {R + "sup-c:2.0"}


async def test_extras_reaching_an_explored_release_add_its_children(tmp_path):
    """ex-b[y] arrives after ex-b (with [x]) was explored: ex-e is still found under ex-b."""
    b = PyPIRepoBuilder()
    b.release("late", "1.0", ["hub[x]", "mid"])
    b.release("mid", "1.0", ["deeper"])
    b.release("deeper", "1.0", ["hub[y]"])
    b.release("hub", "1.0", ['only-x; extra == "x"', 'only-y; extra == "y"'])
    b.release("only-x", "1.0")
    b.release("only-y", "1.0")
    b.root("late")
    repo = b.build()
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only")
    assert_found_as_expected(run, repo, "metadata-only")
    assert (R + "hub:1.0", R + "only-y:1.0", 'only-y; extra == "y"') in edges_of(run)
    assert depths_of(run)[R + "only-y:1.0"] == 2


async def test_files_install_declares_only_the_wheel_pip_would_use(tmp_path):
    repo = make_pypi_repo(cycle=True)
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only",
                            remote={"files": "install"})
    paths = set(run.artifacts_dataframe()["relative_path"])
    assert paths == {f"cy-{x}/cy_{x}-1.0-py3-none-any.whl{suffix}"
                     for x in "abc" for suffix in ("", ".metadata")}


async def test_a_pinned_environment_decides_markers(tmp_path):
    repo = make_pypi_repo(markers=True)
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only",
                            remote={"environment": {"sys_platform": "win32"}})
    assert R + "mk-win:1.0" in depths_of(run)
    assert R + "mk-py2:1.0" not in depths_of(run)


async def test_bad_input_fails_only_its_unit_with_a_clear_message(tmp_path):
    b = PyPIRepoBuilder(metadata_files=False, formats="json")
    b.release("app", "1.0", ["good", "notzip", "badpage", "ghost", "nomatch>=9", "badreq"])
    b.release("good", "1.0", ["leaf"])
    b.release("leaf", "1.0")
    b.release("notzip", "1.0", sdist=False)
    b.release("badpage", "1.0")
    b.release("nomatch", "1.0")
    badreq = b.release("badreq", "1.0", ["leaf", "this is ((( not pep 508"], sdist=False)
    b.root("app", "not a requirement!!")
    repo = b.build()
    assert badreq.files
    repo.files["packages/notzip/notzip-1.0-py3-none-any.whl"] = StaticFile(b"PK not a zip" * 50)
    repo.files["simple/badpage/"] = StaticFile(b"\x89PNG binary", "image/png")
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only")
    errors = dict(run.errors)
    frame = run.to_dataframe().set_index("key")
    assert frame.loc[R + "leaf:1.0", "status"] == "deferred"
    assert frame.loc[R + "good:1.0", "depth"] == 1
    assert "not a requirement!!" in errors["pypi.release:not a requirement!!"]
    assert "notzip-1.0-py3-none-any.whl" in errors[R + "notzip:1.0"]
    assert "not a wheel" in errors[R + "notzip:1.0"]
    assert "image/png" in errors[R + "badpage:*"] and "simple/badpage/" in errors[R + "badpage:*"]
    assert "404" in errors[R + "ghost:*"]
    assert "no release of nomatch matches nomatch>=9" in errors[R + "nomatch:>=9"]
    assert "this is ((( not pep 508" in errors[R + "badreq:1.0"]
    assert (R + "badreq:1.0", R + "leaf:1.0", "leaf") in edges_of(run)
    assert frame.loc[R + "app:1.0", "status"] == "deferred"


async def test_metadata_file_with_wrong_digest_fails_that_release(tmp_path):
    repo = make_pypi_repo(cycle=True)
    path = "packages/cy-b/cy_b-1.0-py3-none-any.whl.metadata"
    repo.files[path] = StaticFile(core_metadata("cy-b", "1.0", ["evil"]))
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only")
    errors = dict(run.errors)
    assert list(errors) == [R + "cy-b:1.0"]
    assert "sha256" in errors[R + "cy-b:1.0"] and path in errors[R + "cy-b:1.0"]
    assert R + "evil:*" not in depths_of(run) and R + "cy-c:1.0" not in depths_of(run)


async def test_wheel_metadata_is_read_by_range_requests(tmp_path):
    """A big wheel without .metadata costs two small Range requests, not the download."""
    b = PyPIRepoBuilder(metadata_files=False)
    b.release("big", "1.0", ["leaf"], payload=600_000, sdist=False)
    b.release("leaf", "1.0", sdist=False)
    b.root("big")
    repo = b.build()
    wheel = "packages/big/big-1.0-py3-none-any.whl"
    assert len(repo.files[wheel].body) > 500_000
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only")
        log = [r for r in server.counters.log if r.path == wheel]
    assert_found_as_expected(run, repo, "metadata-only")
    assert all(r.range is not None and r.status == 206 for r in log)
    assert 1 <= len(log) <= 3


def test_remote_pickles_without_run_state():
    import pickle

    remote = PyPIRemote("http://127.0.0.1:1/simple/", ["a>=1"], prereleases=True)
    copy = pickle.loads(pickle.dumps(remote))
    assert (copy.index_url, copy.root_specs, copy.prereleases) == (
        "http://127.0.0.1:1/simple/", ["a>=1"], True)


def test_bad_configuration_is_refused():
    with pytest.raises(ConfigurationError, match="index_url"):
        PyPIRemote("ftp://x/simple/", ["a"])
    with pytest.raises(ConfigurationError, match="files"):
        PyPIRemote("http://x/simple/", ["a"], files="some")


def test_wheel_is_a_real_zip():
    repo = make_pypi_repo(cycle=True)
    body = repo.files["packages/cy-a/cy_a-1.0-py3-none-any.whl"].body
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert "cy_a-1.0.dist-info/METADATA" in zf.namelist()


async def test_a_page_lying_about_digests_fails_only_that_requirement(tmp_path):
    b = PyPIRepoBuilder(formats="json")
    b.release("app", "1.0", ["liar", "good"])
    b.release("liar", "1.0")
    b.release("good", "1.0")
    b.root("app")
    repo = b.build()
    page = json.loads(repo.files["simple/liar/"].body)
    for entry in page["files"]:
        entry["hashes"] = {"sha256": "abc"}  # hex, but not a sha256
    repo.files["simple/liar/"] = StaticFile(json.dumps(page).encode(), JSON_TYPE)
    async with serve(repo) as server:
        run = await explore(server, repo, tmp_path / "store", policy="metadata-only")
    errors = dict(run.errors)
    assert list(errors) == [R + "liar:*"]
    assert "simple/liar/" in errors[R + "liar:*"] and "'abc'" in errors[R + "liar:*"]
    assert depths_of(run)[R + "good:1.0"] == 1


async def test_a_second_run_on_the_same_store_reads_stored_metadata(tmp_path):
    repo = all_scenarios()
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        first = await explore(server, repo, store, policy="metadata-only")
        server.counters.reset()
        second = await explore(server, repo, store, policy="metadata-only")
        requested = dict(server.counters.by_path)
    assert edges_of(second) == edges_of(first) == repo.expected.edges
    assert not [p for p in requested if p.endswith(".metadata")]
    files = second.artifacts_dataframe()
    meta = files[files["relative_path"].str.endswith(".metadata")]
    assert len(meta) > 30 and set(meta["status"]) == {"existing"}
