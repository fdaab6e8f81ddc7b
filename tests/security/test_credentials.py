"""Credentials stay with the origin the user configured (issue 13, "credentials go to a
third party"): a manifest's foreign layer ``urls`` are not followed unless asked for, and
when followed, the foreign host's own 401 challenge is never answered with the registry's
username and password, nor with its token."""

from __future__ import annotations

import asyncio
import base64

import pytest

from stagekit.download import Downloader
from stagekit.download.auth import BearerAuth
from stagekit.errors import DownloadError, HTTPStatusError
from stagekit.remotes.oci import OCIRemote
from stagekit.storage import Store
from stagekit.testing.hostile import hostile_server, respond
from stagekit.testing.hostile_oci import TOKEN, add_registry, bait_foreign
from tests.security.support import FAST, explore, statuses

USER, PASSWORD = "reg-user", "reg-S3CRET"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def leaked(authorizations: list[str]) -> list[str]:
    return [a for a in authorizations if PASSWORD in a or BASIC in a or TOKEN in a
            or a.startswith(("Basic", "Bearer"))]


async def test_foreign_layer_urls_are_not_followed_by_default(tmp_path):
    async with hostile_server() as registry, hostile_server() as foreign:
        bait_foreign(foreign, ["layer.tar.gz"])
        served = add_registry(registry, credentials=(USER, PASSWORD),
                              layer_urls=[foreign.url_for("layer.tar.gz")])
        remote = OCIRemote(registry.url, "repo", credentials=(USER, PASSWORD))
        run = await explore(remote, Store(tmp_path / "store"))
    found = statuses(run)
    assert found[f"oci.tag:repo:{served.tag}"] == "downloaded"
    assert found[f"oci.blob:{served.config_digest}"] == "downloaded"
    # The layer is only on the foreign host, which is never asked: the layer fails.
    assert found[f"oci.blob:{served.layer_digest}"] == "failed"
    assert foreign.hits == []
    assert "/token" in registry.paths  # the registry itself did get the credentials


async def test_a_foreign_challenge_never_gets_the_registry_credentials(tmp_path):
    async with hostile_server() as registry, hostile_server() as foreign:
        bait_foreign(foreign, ["layer.tar.gz"])
        served = add_registry(registry, credentials=(USER, PASSWORD),
                              layer_urls=[foreign.url_for("layer.tar.gz"), "file:///etc/passwd"])
        remote = OCIRemote(registry.url, "repo", credentials=(USER, PASSWORD),
                           follow_foreign_urls=True)
        run = await explore(remote, Store(tmp_path / "store"))
    assert statuses(run)[f"oci.blob:{served.layer_digest}"] == "failed"
    # The foreign host was asked (the user opted in), once, without any credential, and
    # its token realm was never called.
    assert foreign.paths == ["/layer.tar.gz"]
    assert leaked(foreign.authorizations) == []
    assert "/token" not in foreign.paths
    assert "401" in dict(run.errors)[f"oci.blob:{served.layer_digest}"]


async def test_token_answer_in_two_tcp_writes_is_read_whole(tmp_path):
    async with hostile_server() as registry:
        served = add_registry(registry, credentials=(USER, PASSWORD))
        async with asyncio.timeout(20), Downloader(FAST, temp_dir=tmp_path) as d:
            d.auth = BearerAuth((USER, PASSWORD), origin=registry.url)
            body, _ = await d.get_bytes(registry.url_for("v2/repo/tags/list"))
    assert b'"latest"' in body and served.tag == "latest"
    assert registry.paths.count("/token") == 1


async def test_bearer_auth_answers_only_challenges_of_its_origin(tmp_path):
    async with hostile_server() as registry, hostile_server() as foreign:
        add_registry(registry, credentials=(USER, PASSWORD))
        bait_foreign(foreign, ["v2/repo/tags/list"])
        auth = BearerAuth((USER, PASSWORD), origin=registry.url)
        async with asyncio.timeout(20), Downloader(FAST, temp_dir=tmp_path, auth=auth) as d:
            with pytest.raises(HTTPStatusError, match="401"):
                await d.get_bytes(foreign.url_for("v2/repo/tags/list"))
            await d.get_bytes(registry.url_for("v2/repo/tags/list"))
    assert foreign.paths == ["/v2/repo/tags/list"] and foreign.authorizations == []
    assert auth.refused_challenges == 1 and auth.tokens_fetched == 1


async def test_credentials_are_looked_up_per_host(tmp_path):
    async with hostile_server() as one, hostile_server() as two:
        add_registry(one, credentials=("one", "pw-one"))
        add_registry(two, credentials=("two", "pw-two"))
        host_one = one.url.split("://")[1].rstrip("/")
        auth = BearerAuth({host_one: ("one", "pw-one"), two.url: ("two", "pw-two")})
        async with asyncio.timeout(20), Downloader(FAST, temp_dir=tmp_path, auth=auth) as d:
            await d.get_bytes(one.url_for("v2/repo/tags/list"))
            await d.get_bytes(two.url_for("v2/repo/tags/list"))
    token_one = [h.authorization for h in one.hits if h.path.startswith("/token")]
    token_two = [h.authorization for h in two.hits if h.path.startswith("/token")]
    assert token_one == ["Basic " + base64.b64encode(b"one:pw-one").decode()]
    assert token_two == ["Basic " + base64.b64encode(b"two:pw-two").decode()]


async def test_userinfo_is_dropped_on_a_redirect_to_another_origin(tmp_path):
    async with hostile_server() as origin, hostile_server() as foreign:
        foreign.add("x", respond(b"x"))
        origin.add("x", respond(status=302, headers={"Location": foreign.url_for("x")}))
        url = origin.url_for("x").replace("http://", f"http://{USER}:{PASSWORD}@")
        async with asyncio.timeout(20), Downloader(FAST, temp_dir=tmp_path) as d:
            await d.get_bytes(url)
    assert origin.authorizations == [BASIC]
    assert foreign.authorizations == []


async def test_credentials_never_go_to_a_plain_http_realm_of_an_https_registry():
    auth = BearerAuth((USER, PASSWORD), origin="https://registry.test")
    headers = {"WWW-Authenticate": 'Bearer realm="http://registry.test/token",service="r"'}
    with pytest.raises(DownloadError, match="plain-http token realm"):
        await auth.challenged(None, "https://registry.test/v2/x/tags/list", headers, None)  # type: ignore[arg-type]
    assert auth.tokens_fetched == 0
