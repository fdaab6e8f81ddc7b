"""Injected faults, each observed from an aiohttp client, and the rules that select them."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import hashlib
import logging
import re
import time

import aiohttp
import pytest
from yarl import URL

from stagekit.testing import (
    FaultRule,
    Faults,
    FileRepo,
    Latency,
    Status,
    corrupt,
    hold,
    latency,
    make_file_repo,
    rate_limit,
    redirect,
    reset,
    serve,
    stall,
    status,
    truncate,
)

TIMEOUT = 10


def a_file(repo: FileRepo) -> tuple[str, bytes]:
    path = next(p for p in repo.files if p != repo.entry_path())
    return path, repo.files[path].body


async def get(session: aiohttp.ClientSession, url: str, **kwargs) -> tuple[int, bytes]:
    async with session.get(url, **kwargs) as resp:
        return resp.status, await resp.read()


async def test_latency_delays_the_answer(server, session, file_repo):
    path, body = a_file(file_repo)
    server.faults.add(latency(0.2, path=path))
    async with asyncio.timeout(TIMEOUT):
        started = time.monotonic()
        assert await get(session, server.url_for(path)) == (200, body)
        assert time.monotonic() - started >= 0.2
    assert server.counters.faults_applied["latency"] == 1


async def test_latency_combines_with_a_status_fault(server, session, file_repo):
    path, _ = a_file(file_repo)
    server.faults.add(latency(0.1))
    server.faults.add(status(500))
    async with asyncio.timeout(TIMEOUT):
        started = time.monotonic()
        code, _ = await get(session, server.url_for(path))
        assert time.monotonic() - started >= 0.1
    assert code == 500
    assert server.counters.log[0].faults == ("latency", "status")


async def test_status_with_times_fails_only_the_first_requests(server, session, file_repo):
    path, body = a_file(file_repo)
    rule = server.faults.add(status(503, path=path, times=2))
    async with asyncio.timeout(TIMEOUT):
        results = [await get(session, server.url_for(path)) for _ in range(3)]
    assert [code for code, _ in results] == [503, 503, 200]
    assert results[2][1] == body
    assert (rule.matched, rule.applied) == (2, 2)
    assert server.counters.faults_applied["status"] == 2


async def test_rate_limit_sends_retry_after_in_seconds(server, session, file_repo):
    path, _ = a_file(file_repo)
    server.faults.add(rate_limit(3, path=path))
    async with asyncio.timeout(TIMEOUT), session.get(server.url_for(path)) as resp:
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "3"
    assert server.counters.faults_applied["rate_limit"] == 1


async def test_rate_limit_sends_retry_after_as_http_date(server, session, file_repo):
    path, _ = a_file(file_repo)
    when = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    server.faults.add(rate_limit(when, path=path, times=1))
    server.faults.add(rate_limit(120, http_date=True, path=path))
    async with asyncio.timeout(TIMEOUT):
        async with session.get(server.url_for(path)) as resp:
            assert resp.headers["Retry-After"] == "Tue, 06 May 2031 07:08:09 GMT"
        async with session.get(server.url_for(path)) as resp:
            later = email.utils.parsedate_to_datetime(resp.headers["Retry-After"])
    assert dt.timedelta(seconds=60) < later - dt.datetime.now(dt.UTC) <= dt.timedelta(seconds=121)


async def test_reset_aborts_the_connection_mid_body(server, session, file_repo, caplog):
    path, _ = a_file(file_repo)
    server.faults.add(reset(path=path))
    with caplog.at_level(logging.ERROR):
        async with asyncio.timeout(TIMEOUT):
            with pytest.raises((aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError,
                                aiohttp.ClientOSError)) as caught:
                await get(session, server.url_for(path))
            # A reset, not a clean close (which `truncate` does).
            assert "Connection reset" in str(caught.value), caught.value
            # The server goes on answering other requests.
            assert (await get(session, server.url_for(file_repo.entry_path())))[0] == 200
    assert server.counters.faults_applied["reset"] == 1
    assert [r for r in caplog.records if r.name.startswith("aiohttp")] == []


async def test_truncate_sends_full_length_but_part_of_the_body(server, session, file_repo):
    path, body = a_file(file_repo)
    server.faults.add(truncate(0.25, path=path))
    received = bytearray()
    async with asyncio.timeout(TIMEOUT), session.get(server.url_for(path)) as resp:
        assert resp.headers["Content-Length"] == str(len(body))
        with pytest.raises(aiohttp.ClientPayloadError):
            async for chunk in resp.content.iter_any():
                received += chunk
    assert bytes(received) == body[: len(body) // 4]
    assert server.counters.faults_applied["truncate"] == 1


async def test_corrupt_keeps_length_and_changes_digest(server, session, file_repo):
    path, body = a_file(file_repo)
    server.faults.add(corrupt(3, path=path))
    async with asyncio.timeout(TIMEOUT), session.get(server.url_for(path)) as resp:
        data = await resp.read()
        assert resp.headers["Content-Length"] == str(len(body))
    assert len(data) == len(body)
    assert hashlib.sha256(data).digest() != hashlib.sha256(body).digest()
    assert sum(a != b for a, b in zip(data, body, strict=True)) == 3


async def test_stall_never_answers_so_the_client_timeout_fires(server, session, file_repo):
    path, _ = a_file(file_repo)
    server.faults.add(stall(path=path))
    async with asyncio.timeout(TIMEOUT):
        with pytest.raises(TimeoutError):
            await get(session, server.url_for(path), timeout=aiohttp.ClientTimeout(total=0.3))
        await server.counters.wait_until(lambda c: c.in_flight == 0)
    assert server.counters.log[0].status is None
    assert server.counters.faults_applied["stall"] == 1


async def test_hold_answers_normally_once_its_gate_opens_and_not_before(server, session,
                                                                       file_repo):
    path, body = a_file(file_repo)
    gate = asyncio.Event()
    server.faults.add(hold(gate, path=path))
    async with asyncio.timeout(TIMEOUT):
        held = asyncio.ensure_future(get(session, server.url_for(path)))
        await server.counters.wait_until(lambda c: c.faults_applied["hold"] == 1)
        other = next(p for p in file_repo.files if p not in (path, file_repo.entry_path()))
        assert await get(session, server.url_for(other)) == (200, file_repo.files[other].body)
        assert not held.done() and server.counters.in_flight == 1
        gate.set()
        assert await held == (200, body)
        assert await get(session, server.url_for(path)) == (200, body)  # an open gate
    assert server.counters.faults_applied["hold"] == 2


async def test_redirect_lands_on_the_other_origin_without_credentials(server, session,
                                                                      file_repo):
    path, body = a_file(file_repo)
    server.faults.add(redirect(path=path))
    auth = {"Authorization": aiohttp.encode_basic_auth("user", "secret")}
    async with asyncio.timeout(TIMEOUT):
        async with session.get(server.url_for(path), headers=auth) as resp:
            assert await resp.read() == body
            assert [r.status for r in resp.history] == [302]
            assert str(resp.url) == server.other_url_for(path)
        with_userinfo = URL(server.url_for(path)).with_user("user").with_password("secret")
        async with session.get(with_userinfo) as resp:
            assert await resp.read() == body
    other = server.other_origin_counters
    assert URL(server.other_origin_url).port != URL(server.url).port
    assert other.count(path, "GET") == 2
    assert other.with_authorization == 0
    assert [r.authorization for r in other.log] == [False, False]
    assert server.counters.with_authorization == 2
    assert server.counters.faults_applied["redirect"] == 2
    assert server.counters.count(path) == 2


async def test_rate_is_deterministic_for_a_seed(file_repo):
    path, _ = a_file(file_repo)

    async def pattern(seed: int) -> list[int]:
        async with serve(file_repo, faults=Faults(seed=seed)) as server:
            server.faults.add(status(500, path=path, rate=0.5))
            async with aiohttp.ClientSession() as client:
                return [(await get(client, server.url_for(path)))[0] for _ in range(24)]

    async with asyncio.timeout(TIMEOUT):
        first, again, other = await pattern(11), await pattern(11), await pattern(12)
    assert first == again
    assert first != other
    assert {500, 200} == set(first)


async def test_methods_and_regex_select_requests(server, session, file_repo):
    path, _ = a_file(file_repo)
    server.faults.add(FaultRule(re.compile(r"\.bin$"), Status(404), methods=frozenset({"HEAD"})))
    async with asyncio.timeout(TIMEOUT):
        async with session.head(server.url_for(path)) as resp:
            assert resp.status == 404
        assert (await get(session, server.url_for(path)))[0] == 200
        async with session.head(server.url_for(file_repo.entry_path())) as resp:
            assert resp.status == 200


async def test_rules_can_change_while_serving(server, session, file_repo):
    path, _ = a_file(file_repo)
    url = server.url_for(path)
    async with asyncio.timeout(TIMEOUT):
        rule = server.faults.add(status(502))
        assert (await get(session, url))[0] == 502
        server.faults.remove(rule)
        assert (await get(session, url))[0] == 200
        server.faults.add(status(500))
        server.faults.clear()
        assert (await get(session, url))[0] == 200


def test_first_terminal_rule_wins_and_later_rules_are_not_consumed():
    faults = Faults()
    slow = faults.add(latency(0.1))
    first = faults.add(status(500, times=1))
    second = faults.add(status(503, times=1))
    assert faults.select("GET", "a/b") == [slow, first]
    assert (second.matched, second.applied) == (0, 0)
    assert faults.select("GET", "a/b") == [slow, second]
    assert faults.select("GET", "a/b") == [slow]
    assert isinstance(slow.fault, Latency)


def test_glob_matches_path_without_leading_slash_and_across_directories():
    rule = status(500, path="pool/*.deb")
    assert rule.matches("GET", "pool/main/a.deb")
    assert not rule.matches("GET", "/pool/main/a.deb")
    assert not rule.matches("GET", "pool/main/a.dsc")


def test_rule_rejects_a_rate_outside_zero_one():
    with pytest.raises(ValueError, match="rate"):
        status(500, rate=1.5)


async def test_faults_apply_to_the_manifest_of_a_prefixed_repo(session):
    repo = make_file_repo(2, prefix="sub/dir")
    async with asyncio.timeout(TIMEOUT), serve(repo) as server:
        server.faults.add(status(500, path="sub/dir/PULP_MANIFEST"))
        assert (await get(session, server.url_for(repo.entry_path())))[0] == 500


async def test_reset_cuts_an_error_answer_too(server, session, file_repo):
    # A fault counted as applied must reach the client, also on a path that 404s:
    # otherwise a retry count and the server's fault count disagree.
    server.faults.add(reset(path="no/such/file"))
    async with asyncio.timeout(TIMEOUT):
        with pytest.raises((aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError,
                            aiohttp.ClientOSError)):
            await get(session, server.url_for("no/such/file"))
    assert server.counters.faults_applied["reset"] == 1
