"""Secrets: a URL with user:password, a bearer token and a token in a query string
authenticate, and never appear in an error, a log line, a DataFrame, a graph attribute,
a catalog row or the command's output - also when every kind of fault happens."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

from stagekit.cli import main
from stagekit.download import DownloadConfig
from stagekit.models import DeclarativeArtifact
from stagekit.remotes.file import FileRemote
from stagekit.storage import Store
from stagekit.testing import (
    Faults,
    FileRepo,
    corrupt,
    make_file_repo,
    rate_limit,
    redirect,
    reset,
    serve,
    stall,
    status,
    truncate,
)
from stagekit.testing.file import manifest_line
from stagekit.testing.repo import StaticFile
from tests.faults.support import (
    ListRemote,
    blob_repo,
    catalog_dump,
    explore,
    key,
    statuses,
)

pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.timeout(90)]

USER, PASSWORD = "alice-user", "pw-S3CRET-1"
TOKEN = "tok-BEARER-9f8e7d"
QUERY_TOKEN = "qs-TOKEN-5a4b3c"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
QUICK = DownloadConfig(backoff_base=0.01, backoff_max=0.05, read_timeout=0.3)
SECRETS = (PASSWORD, TOKEN, QUERY_TOKEN, BASIC, f"{USER}:")


def with_userinfo(url: str) -> str:
    return url.replace("http://", f"http://{USER}:{PASSWORD}@", 1)


def assert_no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}: ...{_around(text, secret)}..."


def _around(text: str, secret: str) -> str:
    at = text.index(secret)
    return text[max(0, at - 120): at + 60]


def faulty_repo() -> FileRepo:
    """A file repo whose files each meet a different fault, plus a bad manifest line."""
    repo = make_file_repo(10, seed=31, subdirs=0, size=64 * 1024,
                          bad_lines=["../escape,nothex,1"])
    del repo.files["file-00000.bin"]
    return repo


def add_faults(faults: Faults) -> None:
    faults.add(status(503, path="file-00001.bin"))
    faults.add(reset(path="file-00002.bin"))
    faults.add(truncate(path="file-00003.bin"))
    faults.add(corrupt(path="file-00004.bin"))
    faults.add(stall(path="file-00005.bin"))
    faults.add(redirect(path="file-00006.bin"))
    faults.add(rate_limit(0, path="file-00007.bin"))


def exception_texts(error: BaseException | None) -> Iterator[str]:
    """str, repr, args and attributes of an error and of its causes."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield str(error)
        yield repr(error)
        yield repr(error.args)
        yield repr({k: v for k, v in vars(error).items() if k != "headers"})
        error = error.__cause__ or error.__context__


def everything_recorded(run, store_path: Path, caplog) -> dict[str, str]:
    graph = run.graph
    return {
        "errors": repr(run.errors),
        "unit table": run.to_dataframe().to_csv(),
        "artifact table": run.artifacts_dataframe().to_csv(),
        "graph": "\n".join(nx.generate_graphml(graph)) + repr(dict(graph.nodes(data=True))),
        "stats": repr(run.stats) + repr(run),
        "catalog": catalog_dump(store_path),
        "logs": caplog.text + "\n".join(repr(r.args) for r in caplog.records),
    }


async def test_userinfo_in_manifest_url_never_leaks_under_every_fault(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    repo = faulty_repo()
    store = Store(tmp_path / "store")
    async with serve(repo, faults=Faults()) as server:
        add_faults(server.faults)
        manifest = with_userinfo(server.url_for(repo.entry_path()))
        run = await explore(FileRemote(manifest), store, config=QUICK)
        auth = [r.auth_scheme for r in server.counters.log]
        base = server.url.removesuffix("/")
        other_auth = server.other_origin_counters.with_authorization
    assert set(auth) == {"Basic"}  # the credentials were used on every request
    assert other_auth == 0  # and not sent across the redirect
    found = statuses(run)
    assert found["file:file-00006.bin"] == "downloaded"
    assert sum(s == "failed" for s in found.values()) == 8  # 7 files and the bad line
    for where, text in everything_recorded(run, store.path, caplog).items():
        assert_no_secret(where, text)
    assert base in repr(run.errors)  # errors still name the URL


async def test_bearer_header_and_query_token_never_leak(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    names = ["ok", "gone", "busy", "cut", "moved", "bad"]
    repo, digests = blob_repo(names, size=64 * 1024)
    del repo.files["blobs/gone"]
    store = Store(tmp_path / "store")
    made = []
    async with serve(repo, faults=Faults()) as server:
        server.faults.add(status(500, path="blobs/busy"))
        server.faults.add(reset(path="blobs/cut"))
        server.faults.add(redirect(path="blobs/moved"))
        server.faults.add(corrupt(path="blobs/bad"))

        def build(name):
            url = server.url_for(f"blobs/{name}") + f"?token={QUERY_TOKEN}&x=1"
            da = DeclarativeArtifact(url, name, digests={"sha256": digests[name]},
                                     extra_data={"headers": {"Authorization": f"Bearer {TOKEN}"}})
            made.append(da)
            return [da]

        run = await explore(ListRemote(names, build), store)
        schemes = {r.auth_scheme for r in server.counters.log}
        moved_query = [r for r in server.other_origin_counters.log if r.path == "blobs/moved"]
    assert schemes == {"Bearer"}
    assert server.other_origin_counters.with_authorization == 0
    assert len(moved_query) == 1
    assert statuses(run)[key("ok")] == "downloaded"
    assert statuses(run)[key("moved")] == "downloaded"
    assert {k for k, s in statuses(run).items() if s == "failed"} == {
        key(n) for n in ("gone", "busy", "cut", "bad")}
    texts = everything_recorded(run, store.path, caplog)
    texts["artifact errors"] = "\n".join(t for da in made for t in exception_texts(da.error))
    for where, text in texts.items():
        assert_no_secret(where, text)
    assert "token=REDACTED" in texts["artifact table"]


@contextlib.contextmanager
def served_in_thread(repo, faults: Faults) -> Iterator[str]:
    """Serve ``repo`` from another thread (for the command line, which runs its own loop)."""
    ready, state = threading.Event(), {}

    async def run_server() -> None:
        state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
        async with serve(repo, faults=faults) as server:
            state["url"] = server.url
            ready.set()
            await state["stop"].wait()

    thread = threading.Thread(target=asyncio.run, args=(run_server(),))
    thread.start()
    assert ready.wait(30)
    try:
        yield state["url"]
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(30)


def test_command_line_output_and_files_hold_no_secret(tmp_path, capsys):
    repo = faulty_repo()
    faults = Faults()
    add_faults(faults)
    faults.clear()  # the stall would wait for the default 30 s read timeout
    faults.add(status(503, path="file-00001.bin"))
    faults.add(corrupt(path="file-00004.bin"))
    faults.add(redirect(path="file-00006.bin"))
    store, out = tmp_path / "store", tmp_path / "out"
    with served_in_thread(repo, faults) as url:
        manifest = with_userinfo(url) + f"PULP_MANIFEST?token={QUERY_TOKEN}"
        code = main(["explore", "file", manifest, "--store", str(store), "--out", str(out)])
        printed = capsys.readouterr()
        assert code == 1
        assert main(["explore", "file", manifest, "--store", str(store), "--json"]) == 1
        json_printed = capsys.readouterr()
        unreachable = with_userinfo("http://127.0.0.1:9/") + "PULP_MANIFEST"
        assert main(["explore", "file", unreachable, "--store", str(store)]) == 2
        unreachable_printed = capsys.readouterr()
    assert main(["runs", "--store", str(store)]) == 0
    runs = capsys.readouterr()
    assert main(["show", "1", "--store", str(store)]) == 0
    show = capsys.readouterr()
    assert "  file:file-00000.bin: HTTP 404" in show.out  # under "N failed:"
    texts = {
        "explore": printed.out + printed.err,
        "explore --json": json_printed.out + json_printed.err,
        "unreachable": unreachable_printed.out + unreachable_printed.err,
        "runs": runs.out + runs.err,
        "show": show.out + show.err,
        "catalog": catalog_dump(store),
    }
    texts.update({f"--out {p.name}": p.read_text(errors="replace") for p in out.iterdir()})
    assert "127.0.0.1:9" in texts["unreachable"]
    for where, text in texts.items():
        assert_no_secret(where, text)


def test_manifest_line_of_a_secret_looking_path_is_not_mistaken_for_a_secret():
    """Redaction is about URLs, not file names: a path named like a token stays."""
    line = manifest_line("token=abc/file", b"x")
    assert line.startswith("token=abc/file,")
    assert StaticFile(b"x").body == b"x"
