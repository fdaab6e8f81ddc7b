"""The fixture server: HTTP semantics of static files, counters, lifecycle and the CLI."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from stagekit.testing import FileRepo, Repo, Server, StaticFile, serve, stall
from stagekit.testing import __main__ as cli
from stagekit.testing.server import parse_range

TIMEOUT = 10


def a_file(repo: FileRepo) -> tuple[str, bytes]:
    path = next(p for p in repo.files if p != repo.entry_path())
    return path, repo.files[path].body


async def test_get_answers_body_with_length_type_and_etag(server, session, file_repo):
    path, body = a_file(file_repo)
    async with asyncio.timeout(TIMEOUT):
        async with session.get(server.url_for(path)) as resp:
            data = await resp.read()
            assert resp.status == 200
            assert data == body
            assert resp.headers["Content-Length"] == str(len(body))
            assert resp.headers["Content-Type"] == "application/octet-stream"
            assert resp.headers["Accept-Ranges"] == "bytes"
            etag = resp.headers["ETag"]
        async with session.get(server.url_for(path)) as again:
            assert again.headers["ETag"] == etag
        async with session.get(server.url_for(file_repo.entry_path())) as manifest:
            assert manifest.headers["Content-Type"].startswith("text/plain")


async def test_if_none_match_with_current_etag_answers_304(server, session, file_repo):
    path, _ = a_file(file_repo)
    async with asyncio.timeout(TIMEOUT):
        async with session.get(server.url_for(path)) as resp:
            etag = resp.headers["ETag"]
        async with session.get(server.url_for(path), headers={"If-None-Match": etag}) as resp:
            assert resp.status == 304
            assert await resp.read() == b""


async def test_head_sends_headers_and_no_body(server, file_repo):
    path, body = a_file(file_repo)
    async with asyncio.timeout(TIMEOUT):
        reader, writer = await asyncio.open_connection("127.0.0.1", URL(server.url).port)
        writer.write(f"HEAD /{path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        raw = await reader.read()
        writer.close()
        await writer.wait_closed()
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert f"Content-Length: {len(body)}".encode() in head
    assert rest == b""


async def test_unknown_path_is_404_and_counted(server, session):
    async with asyncio.timeout(TIMEOUT):
        async with session.get(server.url_for("no/such/file")) as resp:
            assert resp.status == 404
    assert server.counters.count("no/such/file") == 1
    assert server.counters.statuses[404] == 1


@pytest.mark.parametrize(("header", "start", "end"), [
    ("bytes=0-9", 0, 10),
    ("bytes=100-", 100, None),
    ("bytes=-5", -5, None),
    ("bytes=10-999999999", 10, None),
])
async def test_single_range_answers_206_with_content_range(server, session, file_repo,
                                                           header, start, end):
    path, body = a_file(file_repo)
    expected = body[start:end]
    first = start % len(body)
    async with asyncio.timeout(TIMEOUT):
        async with session.get(server.url_for(path), headers={"Range": header}) as resp:
            data = await resp.read()
    assert resp.status == 206
    assert data == expected
    assert resp.headers["Content-Length"] == str(len(expected))
    assert resp.headers["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{len(body)}"


@pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=-0"])
async def test_unsatisfiable_range_answers_416(server, session, file_repo, header):
    path, body = a_file(file_repo)
    async with asyncio.timeout(TIMEOUT):
        async with session.get(server.url_for(path), headers={"Range": header}) as resp:
            assert resp.status == 416
            assert resp.headers["Content-Range"] == f"bytes */{len(body)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "bytes=9-3", "items=0-1", "bytes=-"])
async def test_range_it_does_not_handle_is_ignored(server, session, file_repo, header):
    path, body = a_file(file_repo)
    async with asyncio.timeout(TIMEOUT):
        async with session.get(server.url_for(path), headers={"Range": header}) as resp:
            assert resp.status == 200
            assert await resp.read() == body


def test_parse_range_follows_rfc_9110():
    assert parse_range("bytes=0-0", 10) == (0, 1)
    assert parse_range("bytes=-20", 10) == (0, 10)
    assert parse_range("bytes=3-", 10) == (3, 10)
    assert parse_range("bytes=0-1, 3-4", 10) is None
    with pytest.raises(ValueError):
        parse_range("bytes=10-", 10)
    with pytest.raises(ValueError):
        parse_range("bytes=-1", 0)


async def test_dynamic_routes_of_the_repo_come_before_static_files(session):
    class Dynamic(Repo):
        def add_routes(self, app: web.Application) -> None:
            async def hello(request: web.Request) -> web.Response:
                return web.Response(text="dynamic " + request.match_info["name"])

            app.router.add_get("/v2/{name}/hello", hello)

    repo = Dynamic({"v2/x/hello": StaticFile(b"static"), "plain": StaticFile(b"static")})
    async with asyncio.timeout(TIMEOUT), serve(repo) as server:
        async with session.get(server.url_for("v2/x/hello")) as resp:
            assert await resp.text() == "dynamic x"
        async with session.get(server.url_for("plain")) as resp:
            assert await resp.read() == b"static"
        assert server.counters.count("v2/x/hello", "GET") == 1


async def test_url_for_encodes_paths_the_server_decodes(session):
    repo = Repo({"a dir/ü b%.txt": StaticFile(b"odd name")})
    async with asyncio.timeout(TIMEOUT), serve(repo) as server:
        url = server.url_for("/a dir/ü b%.txt")
        assert " " not in url
        assert await (await session.get(url)).read() == b"odd name"
        assert server.counters.count("a dir/ü b%.txt") == 1


async def test_in_flight_and_maximum_follow_concurrent_clients(server, session, file_repo):
    path, _ = a_file(file_repo)
    server.faults.add(stall(path=path))

    async def fetch() -> None:
        async with session.get(server.url_for(path)) as resp:
            await resp.read()

    async with asyncio.timeout(TIMEOUT):
        tasks = [asyncio.create_task(fetch()) for _ in range(5)]
        await server.counters.wait_until(lambda c: c.in_flight == 5)
        assert server.counters.max_in_flight == 5
        assert server.counters.max_in_flight_by_host[URL(server.url).raw_authority] == 5
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # A client that gives up ends its stalled request on the server too.
        await server.counters.wait_until(lambda c: c.in_flight == 0)
    assert server.counters.max_in_flight == 5
    assert server.counters.total == 5
    assert all(record.status is None for record in server.counters.log)


async def test_max_in_flight_per_host_shows_the_client_limit(server, file_repo):
    from stagekit.testing import latency

    server.faults.add(latency(0.05))
    connector = aiohttp.TCPConnector(limit_per_host=2)
    async with asyncio.timeout(TIMEOUT), aiohttp.ClientSession(connector=connector) as client:

        async def fetch(path: str) -> None:
            async with client.get(server.url_for(path)) as resp:
                await resp.read()

        await asyncio.gather(*(fetch(path) for path in file_repo.files))
    assert server.counters.total == len(file_repo.files)
    assert server.counters.max_in_flight_by_host[URL(server.url).raw_authority] == 2
    assert server.counters.max_in_flight == 2


async def test_in_flight_is_counted_per_host_header(server, session, file_repo):
    path, _ = a_file(file_repo)
    server.faults.add(stall(path=path))

    async def fetch(host: str) -> None:
        async with session.get(server.url_for(path), headers={"Host": host}) as resp:
            await resp.read()

    async with asyncio.timeout(TIMEOUT):
        tasks = [asyncio.create_task(fetch(h)) for h in ("a.test", "a.test", "b.test")]
        await server.counters.wait_until(lambda c: c.in_flight == 3)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert server.counters.max_in_flight_by_host == {"a.test": 2, "b.test": 1}


async def test_log_records_range_and_auth_scheme_without_credentials(server, session,
                                                                     file_repo):
    path, _ = a_file(file_repo)
    async with asyncio.timeout(TIMEOUT):
        headers = {"Range": "bytes=0-3", "Authorization": "Basic dXNlcjpzZWNyZXQ="}
        async with session.get(server.url_for(path), headers=headers) as resp:
            assert resp.status == 206
        async with session.head(server.url_for(path)) as resp:
            assert resp.status == 200
    first, second = server.counters.log
    assert (first.method, first.path, first.status, first.range) == ("GET", path, 206, "bytes=0-3")
    assert first.authorization and first.auth_scheme == "Basic"
    assert "dXNlcjpzZWNyZXQ" not in repr(first)
    assert (second.method, second.authorization) == ("HEAD", False)
    assert first.time <= second.time
    assert server.counters.with_authorization == 1
    assert server.counters.count(path) == 2
    assert server.counters.count(path, "HEAD") == 1


async def test_reset_counters_forgets_history(server, session, file_repo):
    async with asyncio.timeout(TIMEOUT):
        async with session.get(server.url_for(file_repo.entry_path())) as resp:
            await resp.read()
    server.counters.reset()
    assert (server.counters.total, server.counters.max_in_flight, len(server.counters.log)) \
        == (0, 0, 0)
    assert server.counters.count(file_repo.entry_path()) == 0


async def test_stop_with_a_stalled_request_is_quick_and_leaves_no_task(file_repo,
                                                                       no_leftover_tasks):
    path, _ = a_file(file_repo)
    async with asyncio.timeout(TIMEOUT), aiohttp.ClientSession() as client:
        server = await Server(file_repo).start()
        server.faults.add(stall(path=path))

        async def fetch() -> None:
            async with client.get(server.url_for(path)) as resp:
                await resp.read()

        request = asyncio.create_task(fetch())
        await server.counters.wait_until(lambda c: c.in_flight == 1)
        # shutdown_timeout is 2 s: a stop within 1.5 s shows the stall was cancelled.
        async with asyncio.timeout(1.5):
            await server.stop()
        with pytest.raises(aiohttp.ClientError):
            await request
    assert server.counters.in_flight == 0
    with pytest.raises(RuntimeError):
        _ = server.url
    no_leftover_tasks()


async def test_server_restarts_after_stop(file_repo):
    server = Server(file_repo)
    async with asyncio.timeout(TIMEOUT):
        for _ in range(2):
            async with server, aiohttp.ClientSession() as client:
                async with client.get(server.url_for(file_repo.entry_path())) as resp:
                    assert resp.status == 200
    assert server.counters.total == 2


async def test_cli_serves_file_repo_until_sigint(file_repo):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "stagekit.testing", "serve", "file", "--files", "4",
        "--seed", "7", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    try:
        async with asyncio.timeout(30):
            first = (await proc.stdout.readline()).decode().strip()
            roots = (await proc.stdout.readline()).decode().strip()
            base = first.removeprefix("serving a generated file repository at ")
            assert base.startswith("http://127.0.0.1:") and base.endswith("/")
            entry = roots.removeprefix("roots: ")
            assert entry == base + "PULP_MANIFEST"
            async with aiohttp.ClientSession() as client, client.get(entry) as resp:
                lines = (await resp.text()).splitlines()
            assert len(lines) == 4
            relative, sha256, size = lines[0].split(",")
            async with aiohttp.ClientSession() as client, client.get(base + relative) as resp:
                data = await resp.read()
            assert (hashlib.sha256(data).hexdigest(), len(data)) == (sha256, int(size))
            proc.send_signal(signal.SIGINT)
            _, stderr = await proc.communicate()
        assert proc.returncode == 0, stderr.decode()
        assert b"Traceback" not in stderr
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_cli_reports_a_missing_generator_and_exits_2(monkeypatch, capsys):
    monkeypatch.setitem(cli.GENERATORS, "maven", ("stagekit.testing.no_such_module", "make"))
    assert cli.main(["serve", "maven"]) == 2
    assert "not available" in capsys.readouterr().err


def test_cli_passes_only_the_flags_a_generator_takes(capsys):
    def make(*, seed: int = 0, depth: int = 1) -> Repo:
        return Repo()

    args = cli.build_parser().parse_args(
        ["serve", "maven", "--depth", "4", "--fanout", "2", "--param", "extra=[1, 2]"])
    assert cli.generator_kwargs(make, args) == {"seed": 0, "depth": 4}
    assert "extra, fanout" in capsys.readouterr().err
