"""Bearer-token auth: challenge parsing, token reuse, refresh on expiry and on a new 401."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from stagekit.download import DownloadConfig, Downloader
from stagekit.download.auth import BearerAuth, parse_bearer_challenge, resource_key
from stagekit.errors import DownloadError, HTTPStatusError
from stagekit.testing import serve
from stagekit.testing.oci import OCIRepo, make_oci_repo
from stagekit.testing.oci_content import OCI_INDEX, OCI_MANIFEST

TIMEOUT = 20
ACCEPT = {"Accept": f"{OCI_INDEX}, {OCI_MANIFEST}"}
FAST = DownloadConfig(backoff_base=0.01, backoff_max=0.02)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tokens_of(repo: OCIRepo) -> set[str]:
    return set(repo.token_auth._tokens)


def test_challenge_params_are_parsed_with_quoted_commas_and_escapes() -> None:
    header = ('Bearer realm="https://auth.example.org/token",service="registry.example.org",'
              'scope="repository:samalba/my-app:pull,push",error="invalid_token"')
    challenge = parse_bearer_challenge(header)
    assert challenge is not None
    assert challenge.realm == "https://auth.example.org/token"
    assert challenge.service == "registry.example.org"
    assert challenge.scope == "repository:samalba/my-app:pull,push"
    assert challenge.error == "invalid_token"
    both = parse_bearer_challenge(['Basic realm="x"', 'Bearer realm="http://h/t\\"x"'])
    assert both is not None and both.realm == 'http://h/t"x' and both.scope is None


def test_non_bearer_or_realmless_challenges_are_ignored() -> None:
    assert parse_bearer_challenge('Basic realm="registry"') is None
    assert parse_bearer_challenge('Bearer service="x"') is None
    assert parse_bearer_challenge('Bearer realm="ftp://h/token"') is None


def test_resource_key_groups_a_repository_and_keeps_names_with_route_words() -> None:
    base = "http://127.0.0.1:5000/v2/"
    keys = {resource_key(base + p) for p in (
        "library/app/tags/list", "library/app/manifests/1.0",
        "library/app/blobs/sha256:" + "a" * 64)}
    assert keys == {"http://127.0.0.1:5000/v2/library/app"}
    assert resource_key(base + "team/manifests/tool/manifests/1.0") == \
        "http://127.0.0.1:5000/v2/team/manifests/tool"
    assert resource_key("http://user:pw@h/v2/a/tags/list") == "http://h/v2/a"


@pytest.fixture
async def registry() -> AsyncIterator[tuple[OCIRepo, str]]:
    repo = make_oci_repo(tags=2, auth=True, seed=2)
    async with serve(repo) as server:
        yield repo, server.url


async def test_concurrent_requests_share_one_token(registry, tmp_path: Path) -> None:
    repo, url = registry
    auth = BearerAuth()
    async with asyncio.timeout(TIMEOUT), Downloader(FAST, temp_dir=tmp_path, auth=auth) as d:
        paths = [f"v2/library/app/manifests/{tag}" for tag in ("1.0", "1.1")] * 5
        results = await asyncio.gather(*(d.get_bytes(url + p, headers=ACCEPT) for p in paths))
    assert repo.tokens_issued == 1 and auth.tokens_fetched == 1
    for (body, headers), path in zip(results, paths, strict=True):
        assert "sha256:" + hashlib.sha256(body).hexdigest() == headers["Docker-Content-Digest"]
        assert headers["Docker-Content-Digest"] == repo.tag_digest(path.rsplit("/", 1)[1])


async def test_blob_fetch_retries_a_401_once_with_a_token(registry, tmp_path: Path) -> None:
    repo, url = registry
    digest, blob = next(iter(repo.content.blobs.items()))
    async with asyncio.timeout(TIMEOUT), Downloader(FAST, temp_dir=tmp_path,
                                                    auth=BearerAuth()) as d:
        result = await d.fetch(url + f"v2/library/app/blobs/{digest}",
                               expected_digests={"sha256": digest.removeprefix("sha256:")})
    assert result.temp_path.read_bytes() == blob.body
    assert result.tries == 2  # the 401, then the authorized request
    assert repo.tokens_issued == 1


async def test_a_token_rejected_later_is_replaced_once(registry, tmp_path: Path) -> None:
    repo, url = registry
    tags = url + "v2/library/app/tags/list"
    async with asyncio.timeout(TIMEOUT), Downloader(FAST, temp_dir=tmp_path,
                                                    auth=BearerAuth()) as d:
        await d.get_bytes(tags)
        first = tokens_of(repo)
        repo.expire_tokens()
        body, _ = await d.get_bytes(tags)
        await d.get_bytes(tags)
    assert b'"1.0"' in body
    assert repo.tokens_issued == 2
    assert tokens_of(repo).isdisjoint(first)


async def test_a_token_past_its_lifetime_is_renewed_before_the_request(tmp_path: Path) -> None:
    repo = make_oci_repo(tags=1, auth=True, expires_in=100)
    server_clock, client_clock = FakeClock(), FakeClock()
    repo.token_auth.clock = server_clock
    auth = BearerAuth(clock=client_clock, refresh_margin=5)
    async with asyncio.timeout(TIMEOUT), serve(repo) as server, \
            Downloader(FAST, temp_dir=tmp_path, auth=auth) as d:
        tags = server.url + "v2/library/app/tags/list"
        await d.get_bytes(tags)
        client_clock.now += 90
        await d.get_bytes(tags)  # still valid: reused
        assert repo.tokens_issued == 1
        client_clock.now += 6  # inside the refresh margin
        server_clock.now += 96
        await d.get_bytes(tags)
        assert repo.tokens_issued == 2
        assert server.counters.statuses[401] == 1  # renewed without being refused


async def test_credentials_go_to_the_token_realm_only(tmp_path: Path) -> None:
    repo = make_oci_repo(tags=1, auth=True, credentials=("reader", "s3cret"))
    async with asyncio.timeout(TIMEOUT), serve(repo) as server:
        tags = server.url + "v2/library/app/tags/list"
        async with Downloader(FAST, temp_dir=tmp_path, auth=BearerAuth()) as d:
            with pytest.raises(HTTPStatusError) as info:
                await d.get_bytes(tags)
        assert info.value.status == 401 and "token" in str(info.value)
        async with Downloader(FAST, temp_dir=tmp_path,
                              auth=BearerAuth(("reader", "s3cret"))) as d:
            body, _ = await d.get_bytes(tags)
        assert b"1.0" in body
        schemes = {(r.path, r.auth_scheme) for r in server.counters.log if r.status == 200}
        assert schemes == {("token", "Basic"), ("v2/library/app/tags/list", "Bearer")}


async def test_a_refused_token_fails_after_one_retry_without_leaking_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hits: list[str | None] = []

    async def resource(request: web.Request) -> web.Response:
        hits.append(request.headers.get("Authorization"))
        realm = f"{request.url.origin()}/token"
        return web.Response(status=401, headers={
            "WWW-Authenticate": f'Bearer realm="{realm}",service="s",scope="repository:x:pull"'})

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"token": "tok-SECRET-123", "expires_in": 300})

    app = web.Application()
    app.router.add_get("/v2/x/tags/list", resource)
    app.router.add_get("/token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    caplog.set_level(logging.DEBUG)
    try:
        async with asyncio.timeout(TIMEOUT), Downloader(FAST, temp_dir=tmp_path,
                                                        auth=BearerAuth()) as d:
            with pytest.raises(HTTPStatusError) as info:
                await d.get_bytes(f"http://127.0.0.1:{port}/v2/x/tags/list")
    finally:
        await runner.cleanup()
    assert hits == [None, "Bearer tok-SECRET-123"]
    assert info.value.status == 401
    assert "SECRET" not in str(info.value) and "SECRET" not in caplog.text


async def test_an_unusable_token_endpoint_is_a_clear_download_error(tmp_path: Path) -> None:
    async def resource(request: web.Request) -> web.Response:
        realm = f"{request.url.origin()}/token"
        return web.Response(status=401, headers={"WWW-Authenticate": f'Bearer realm="{realm}"'})

    async def token(request: web.Request) -> web.Response:
        return web.Response(body=b"<html>not json</html>")

    app = web.Application()
    app.router.add_get("/v2/x/tags/list", resource)
    app.router.add_get("/token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        async with asyncio.timeout(TIMEOUT), Downloader(FAST, temp_dir=tmp_path,
                                                        auth=BearerAuth()) as d:
            with pytest.raises(DownloadError, match="is not a token") as info:
                await d.get_bytes(f"http://127.0.0.1:{port}/v2/x/tags/list")
    finally:
        await runner.cleanup()
    assert f"127.0.0.1:{port}/token" in str(info.value)
