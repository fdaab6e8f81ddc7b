"""Credentials in URLs authenticate but never leak: errors, logs, results, redirects."""

from __future__ import annotations

import asyncio
import base64
import logging

import aiohttp
import pytest
from download_faults import PASSWORD, USER, payload

from stagekit.errors import DownloadError, HTTPStatusError

BODY = payload(50_000)


def with_credentials(url: str, password: str = PASSWORD) -> str:
    return url.replace("http://", f"http://{USER}:{password}@", 1)


@pytest.fixture(autouse=True)
def _files(server, other_server) -> None:
    server.files["a"] = other_server.files["a"] = BODY


async def test_credentials_in_url_authenticate_and_are_not_in_the_result(server, downloader):
    url = with_credentials(server.url("/auth/a"))
    async with asyncio.timeout(10), downloader() as d:
        result = await d.fetch(url)
    assert result.temp_path.read_bytes() == BODY
    assert PASSWORD not in result.url and USER not in result.url
    assert result.url == server.url("/auth/a")


async def test_wrong_credentials_fail_at_once_without_leaking(server, downloader, caplog):
    caplog.set_level(logging.DEBUG)
    url = with_credentials(server.url("/auth/a"), password="wrong-pw")
    async with asyncio.timeout(10), downloader() as d:
        with pytest.raises(HTTPStatusError) as info:
            await d.fetch(url)
    assert info.value.status == 401 and server.hits["/auth/a"] == 1
    assert "wrong-pw" not in str(info.value) and "wrong-pw" not in repr(info.value.args)
    assert info.value.url == server.url("/auth/a")
    assert info.value.headers["WWW-Authenticate"] == 'Basic realm="t"'
    assert "wrong-pw" not in caplog.text


async def test_retries_and_final_errors_never_log_credentials(server, downloader, caplog):
    caplog.set_level(logging.DEBUG)
    urls = [
        with_credentials(server.url("/x/a?mode=status&status=503&token=tok-secret")),
        with_credentials(server.url("/x/a?mode=truncate")),
    ]
    async with asyncio.timeout(10), downloader(tries=2) as d:
        with pytest.raises(DownloadError) as info:
            await d.fetch(urls)
    assert sum(server.hits.values()) == 4
    text = str(info.value) + caplog.text
    assert "retrying" in caplog.text  # the logs did mention the failing URLs
    for secret in (PASSWORD, "tok-secret", f"{USER}:"):
        assert secret not in text


async def test_cross_origin_redirect_drops_credentials(server, other_server, downloader):
    target = other_server.url("/x/a")
    url = with_credentials(server.url(f"/redirect?to={target}"))
    async with asyncio.timeout(10), downloader() as d:
        result = await d.fetch(url, headers={"X-Trace": "1"})
    assert result.temp_path.read_bytes() == BODY
    assert server.authorizations == [basic_header()]  # the origin did get them
    assert other_server.authorizations == [None]


async def test_cross_origin_redirect_drops_an_explicit_authorization_header(
    server, other_server, downloader
):
    url = server.url(f"/redirect?to={other_server.url('/x/a')}")
    async with asyncio.timeout(10), downloader() as d:
        await d.fetch(url, headers={"Authorization": "Bearer tok"})
    assert server.authorizations == ["Bearer tok"]
    assert other_server.authorizations == [None]


async def test_same_origin_redirect_keeps_credentials(server, downloader):
    url = with_credentials(server.url(f"/redirect?to={server.url('/auth/a')}"))
    async with asyncio.timeout(10), downloader() as d:
        result = await d.fetch(url)
    assert result.temp_path.read_bytes() == BODY
    assert server.authorizations == [basic_header(), basic_header()]


async def test_aiohttp_itself_drops_authorization_on_cross_origin_redirect(server, other_server):
    # We follow redirects by hand anyway; this records what the installed aiohttp does.
    url = server.url(f"/redirect?to={other_server.url('/x/a')}")
    async with asyncio.timeout(10), aiohttp.ClientSession() as session:
        async with session.get(url, headers={"Authorization": basic_header()}) as response:
            assert await response.read() == BODY
    assert server.authorizations == [basic_header()]
    assert other_server.authorizations == [None]


def basic_header() -> str:
    return "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


async def test_a_malformed_url_with_credentials_fails_without_echoing_them(downloader):
    async with asyncio.timeout(10), downloader() as d:
        with pytest.raises(DownloadError, match="malformed URL") as info:
            await d.fetch(f"http://{USER}:{PASSWORD}@[::1/x")
    assert PASSWORD not in str(info.value) and info.value.tries == 1
