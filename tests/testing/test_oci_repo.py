"""The fixture OCI registry against the Distribution Spec (read side) and image specs."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from stagekit.testing.oci import OCIRepo, make_oci_repo
from stagekit.testing.oci_content import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    INDEX_TYPES,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
)
from stagekit.testing.server import Server, serve

ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST])
API = "registry/2.0"


@dataclass
class Registry:
    repo: OCIRepo
    server: Server
    session: aiohttp.ClientSession

    def url(self, path: str) -> str:
        return self.server.url + path.lstrip("/")

    async def get(self, path: str, *, method: str = "GET", accept: str | None = ACCEPT,
                  headers: dict[str, str] | None = None, **kw: object
                  ) -> tuple[aiohttp.ClientResponse, bytes]:
        all_headers = {**({"Accept": accept} if accept else {}), **(headers or {})}
        async with self.session.request(method, self.url(path), headers=all_headers,
                                        **kw) as resp:
            return resp, await resp.read()


@pytest.fixture
async def registry() -> AsyncIterator[Registry]:
    repo = make_oci_repo(["library/app", "tools/deep/cli"], tags=6, latest=True, seed=7)
    async with serve(repo) as server, aiohttp.ClientSession(skip_auto_headers=["Accept"]) as s:
        yield Registry(repo, server, s)


def sha(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def error_codes(body: bytes) -> list[str]:
    return [e["code"] for e in json.loads(body)["errors"]]


async def test_base_answers_empty_json_with_api_version_header(registry: Registry) -> None:
    async with asyncio.timeout(10):
        resp, body = await registry.get("v2/")
    assert resp.status == 200
    assert json.loads(body) == {}
    assert resp.headers["Docker-Distribution-API-Version"] == API
    assert registry.repo.entry_path() == "v2/"


async def test_tags_list_pages_follow_link_until_exhausted(registry: Registry) -> None:
    async with asyncio.timeout(10):
        path, pages, tags = "v2/library/app/tags/list?n=2", 0, []
        while path:
            resp, body = await registry.get(path)
            assert resp.status == 200
            page = json.loads(body)
            assert page["name"] == "library/app"
            assert len(page["tags"]) <= 2
            tags += page["tags"]
            pages += 1
            link = resp.headers.get("Link")
            path = re.fullmatch(r'<(.+)>; rel="next"', link).group(1) if link else ""
    expected = sorted(registry.repo.content.tags["library/app"])
    assert tags == expected and len(expected) == 7
    assert pages == 4


async def test_tags_list_without_n_is_whole_and_max_page_caps_it(registry: Registry) -> None:
    async with asyncio.timeout(10):
        resp, body = await registry.get("v2/tools/deep/cli/tags/list")
        assert "Link" not in resp.headers
        assert json.loads(body)["tags"] == sorted(registry.repo.content.tags["tools/deep/cli"])
        registry.repo.max_page = 4
        resp, body = await registry.get("v2/tools/deep/cli/tags/list?n=100")
        assert len(json.loads(body)["tags"]) == 4
        assert resp.headers["Link"].startswith("</v2/tools/deep/cli/tags/list?n=4&last=")
        resp, body = await registry.get("v2/tools/deep/cli/tags/list?last=1.3")
        assert json.loads(body)["tags"] == ["1.4", "1.5", "latest"]


async def test_catalog_lists_repositories(registry: Registry) -> None:
    async with asyncio.timeout(10):
        resp, body = await registry.get("v2/_catalog?n=1")
    assert json.loads(body) == {"repositories": ["library/app"]}
    assert resp.headers["Link"] == '</v2/_catalog?n=1&last=library%2Fapp>; rel="next"'


async def test_bad_pagination_and_unknown_names_get_spec_errors(registry: Registry) -> None:
    async with asyncio.timeout(10):
        resp, body = await registry.get("v2/library/app/tags/list?n=many")
        assert (resp.status, error_codes(body)) == (400, ["PAGINATION_NUMBER_INVALID"])
        for path in ("v2/nope/tags/list", "v2/nope/manifests/1.0", "v2/nope/blobs/sha256:"
                     + "0" * 64):
            resp, body = await registry.get(path)
            assert (resp.status, error_codes(body)) == (404, ["NAME_UNKNOWN"]), path
            assert resp.headers["Content-Type"] == "application/json"


async def test_manifests_by_tag_and_digest_serve_the_exact_stored_bytes(
        registry: Registry) -> None:
    content = registry.repo.content
    async with asyncio.timeout(10):
        for name, tags in content.tags.items():
            for tag, digest in tags.items():
                resp, body = await registry.get(f"v2/{name}/manifests/{tag}")
                assert resp.status == 200
                assert resp.headers["Docker-Content-Digest"] == digest == sha(body)
                assert int(resp.headers["Content-Length"]) == len(body)
                assert resp.headers["Content-Type"] == json.loads(body)["mediaType"]
                assert resp.headers["Docker-Distribution-API-Version"] == API
                by_digest, body2 = await registry.get(f"v2/{name}/manifests/{digest}")
                assert body2 == body
                assert by_digest.headers["Content-Type"] == resp.headers["Content-Type"]
                head, empty = await registry.get(f"v2/{name}/manifests/{tag}", method="HEAD")
                assert head.status == 200 and empty == b""
                assert head.headers["Docker-Content-Digest"] == digest
                assert int(head.headers["Content-Length"]) == len(body)


async def test_manifest_content_follows_image_specs(registry: Registry) -> None:
    content = registry.repo.content
    kinds = set()
    async with asyncio.timeout(10):
        for name, tags in content.tags.items():
            for digest in tags.values():
                _, body = await registry.get(f"v2/{name}/manifests/{digest}")
                doc = json.loads(body)
                kinds.add(doc["mediaType"])
                assert doc["schemaVersion"] == 2
                children = []
                if doc["mediaType"] in INDEX_TYPES:
                    child_type = (OCI_MANIFEST if doc["mediaType"] == OCI_INDEX
                                  else DOCKER_MANIFEST)
                    assert {m["platform"]["architecture"] for m in doc["manifests"]} == {
                        "amd64", "arm64"}
                    for entry in doc["manifests"]:
                        assert entry["mediaType"] == child_type
                        assert entry["platform"]["os"] == "linux"
                        _, child = await registry.get(f"v2/{name}/manifests/{entry['digest']}")
                        assert (sha(child), len(child)) == (entry["digest"], entry["size"])
                        children.append(json.loads(child))
                else:
                    children.append(doc)
                for image in children:
                    await check_image(registry, name, image)
    assert kinds == {OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST}


async def check_image(registry: Registry, name: str, image: dict) -> None:
    docker = image["mediaType"] == DOCKER_MANIFEST
    assert image["config"]["mediaType"] == (DOCKER_CONFIG if docker else OCI_CONFIG)
    _, config = await registry.get(f"v2/{name}/blobs/{image['config']['digest']}")
    assert (sha(config), len(config)) == (image["config"]["digest"], image["config"]["size"])
    config_doc = json.loads(config)
    assert config_doc["os"] == "linux" and config_doc["architecture"] in {"amd64", "arm64"}
    diff_ids = []
    for layer in image["layers"]:
        assert layer["mediaType"] == (DOCKER_LAYER if docker else OCI_LAYER)
        _, blob = await registry.get(f"v2/{name}/blobs/{layer['digest']}")
        assert (sha(blob), len(blob)) == (layer["digest"], layer["size"])
        diff_ids.append(sha(gzip.decompress(blob)))
    assert config_doc["rootfs"] == {"type": "layers", "diff_ids": diff_ids}


async def test_manifest_not_in_accept_is_manifest_unknown(registry: Registry) -> None:
    index_tag = "library/app/manifests/1.0"
    async with asyncio.timeout(10):
        for accept in (OCI_MANIFEST, None, "*/*"):
            resp, body = await registry.get(f"v2/{index_tag}", accept=accept)
            assert (resp.status, error_codes(body)) == (404, ["MANIFEST_UNKNOWN"]), accept
        resp, _ = await registry.get(f"v2/{index_tag}", accept=f"{OCI_INDEX}; q=0.5")
        assert resp.status == 200
        registry.repo.strict_accept = False
        resp, _ = await registry.get(f"v2/{index_tag}", accept=None)
        assert resp.status == 200


async def test_unknown_references_get_manifest_and_blob_errors(registry: Registry) -> None:
    content = registry.repo.content
    other_only = next(iter(content.repo_blobs["tools/deep/cli"]
                           - content.repo_blobs["library/app"]))
    async with asyncio.timeout(10):
        for path, status, code in [
            ("v2/library/app/manifests/9.9", 404, "MANIFEST_UNKNOWN"),
            (f"v2/library/app/manifests/sha256:{'a' * 64}", 404, "MANIFEST_UNKNOWN"),
            ("v2/library/app/manifests/sha256:xyz", 400, "DIGEST_INVALID"),
            (f"v2/library/app/blobs/sha256:{'b' * 64}", 404, "BLOB_UNKNOWN"),
            (f"v2/library/app/blobs/{other_only}", 404, "BLOB_UNKNOWN"),
            ("v2/library/app/blobs/md5:abc", 400, "DIGEST_INVALID"),
        ]:
            resp, body = await registry.get(path)
            assert (resp.status, error_codes(body)) == (status, [code]), path
            assert json.loads(body)["errors"][0]["message"]


async def test_blobs_answer_byte_ranges(registry: Registry) -> None:
    digest = next(iter(registry.repo.content.repo_blobs["library/app"]))
    whole = registry.repo.content.blobs[digest].body
    path = f"v2/library/app/blobs/{digest}"
    async with asyncio.timeout(10):
        resp, body = await registry.get(path)
        assert (resp.status, body, resp.headers["Docker-Content-Digest"]) == (200, whole, digest)
        assert resp.headers["Accept-Ranges"] == "bytes"
        resp, body = await registry.get(path, headers={"Range": "bytes=10-19"})
        assert (resp.status, body) == (206, whole[10:20])
        assert resp.headers["Content-Range"] == f"bytes 10-19/{len(whole)}"
        resp, body = await registry.get(path, headers={"Range": "bytes=-5"})
        assert (resp.status, body) == (206, whole[-5:])
        resp, _ = await registry.get(path, headers={"Range": f"bytes={len(whole)}-"})
        assert resp.status == 416
        assert resp.headers["Content-Range"] == f"bytes */{len(whole)}"
        head, empty = await registry.get(path, method="HEAD")
        assert (head.status, empty, int(head.headers["Content-Length"])) == (200, b"",
                                                                              len(whole))


def parse_challenge(header: str) -> dict[str, str]:
    scheme, _, params = header.partition(" ")
    assert scheme == "Bearer"
    return dict(re.findall(r'(\w+)="([^"]*)"', params))


async def test_bearer_flow_challenge_token_then_ok_and_expiry(registry: Registry) -> None:
    repo = registry.repo
    repo.auth = True
    now = [1_700_000_000.0]
    repo.token_auth.clock = lambda: now[0]
    path = "v2/library/app/manifests/1.1"
    async with asyncio.timeout(10):
        resp, body = await registry.get(path)
        assert (resp.status, error_codes(body)) == (401, ["UNAUTHORIZED"])
        challenge = parse_challenge(resp.headers["WWW-Authenticate"])
        assert challenge == {"realm": registry.url("token"), "service": "stagekit-registry",
                             "scope": "repository:library/app:pull"}
        async with registry.session.get(challenge["realm"], params={
                "service": challenge["service"], "scope": challenge["scope"]}) as token_resp:
            grant = await token_resp.json()
        assert set(grant) == {"token", "access_token", "expires_in", "issued_at"}
        assert grant["expires_in"] == 300 and grant["issued_at"] == "2023-11-14T22:13:20Z"
        bearer = {"Authorization": f"Bearer {grant['token']}"}
        for _ in range(3):
            resp, _ = await registry.get(path, headers=bearer)
            assert resp.status == 200
        assert repo.tokens_issued == 1
        resp, _ = await registry.get("v2/tools/deep/cli/manifests/1.1", headers=bearer)
        assert resp.status == 401
        assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]
        now[0] += 299
        resp, _ = await registry.get(path, headers=bearer)
        assert resp.status == 200
        now[0] += 1
        resp, _ = await registry.get(path, headers=bearer)
        assert resp.status == 401
        assert parse_challenge(resp.headers["WWW-Authenticate"])["error"] == "invalid_token"
        resp, _ = await registry.get(path, headers={"Authorization": "Bearer forged"})
        assert resp.status == 401
        resp, _ = await registry.get("v2/", headers=bearer)
        assert parse_challenge(resp.headers["WWW-Authenticate"]).get("scope") is None


async def test_auth_switches_at_runtime_and_tokens_can_be_revoked(registry: Registry) -> None:
    repo = registry.repo
    repo.expires_in = 5
    async with asyncio.timeout(10):
        repo.auth = True
        resp, _ = await registry.get("v2/")
        assert resp.status == 401
        async with registry.session.get(registry.url("token"), params={
                "scope": "repository:library/app:pull repository:tools/deep/cli:pull"}) as r:
            grant = await r.json()
        assert grant["expires_in"] == 5
        token = grant["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        for path in ("v2/", "v2/library/app/tags/list", "v2/tools/deep/cli/tags/list"):
            resp, _ = await registry.get(path, headers=bearer)
            assert resp.status == 200, path
        repo.expire_tokens()
        resp, _ = await registry.get("v2/", headers=bearer)
        assert resp.status == 401
        repo.auth = False
        resp, _ = await registry.get("v2/")
        assert resp.status == 200
    assert repo.tokens_issued == 1


async def test_token_endpoint_requires_credentials_when_configured() -> None:
    repo = make_oci_repo(tags=1, auth=True, credentials=("alice", "s3cret"))
    async with asyncio.timeout(10), serve(repo) as server, aiohttp.ClientSession() as session:
        async with session.get(server.url + "token") as resp:
            assert resp.status == 401
        for password, status in (("wrong", 401), ("s3cret", 200)):
            basic = base64.b64encode(f"alice:{password}".encode()).decode()
            async with session.get(server.url + "token",
                                   headers={"Authorization": f"Basic {basic}"}) as resp:
                assert resp.status == status
    assert repo.tokens_issued == 1


async def explore(registry: Registry) -> tuple[dict[str, tuple[str, int]], set[tuple]]:
    """Walk the registry over HTTP as an explorer would: units (key -> sha, size), edges."""
    units: dict[str, tuple[str, int]] = {}
    edges: set[tuple] = set()

    async def manifest(name: str, parent: str, digest: str) -> None:
        _, body = await registry.get(f"v2/{name}/manifests/{digest}")
        doc = json.loads(body)
        key = ("oci.index:" if doc["mediaType"] in INDEX_TYPES else "oci.manifest:") + digest
        units[key] = (sha(body), len(body))
        edges.add((parent, key, "manifest"))
        for child in doc.get("manifests", []):
            await manifest(name, key, child["digest"])
        for relation, descriptors in (("config", [doc.get("config")]),
                                      ("layer", doc.get("layers", []))):
            for d in filter(None, descriptors):
                _, blob = await registry.get(f"v2/{name}/blobs/{d['digest']}")
                units["oci.blob:" + d["digest"]] = (sha(blob), len(blob))
                edges.add((key, "oci.blob:" + d["digest"], relation))

    _, body = await registry.get("v2/_catalog")
    for name in json.loads(body)["repositories"]:
        _, body = await registry.get(f"v2/{name}/tags/list")
        for tag in json.loads(body)["tags"]:
            resp, body = await registry.get(f"v2/{name}/manifests/{tag}")
            units[f"oci.tag:{name}:{tag}"] = (sha(body), len(body))
            await manifest(name, f"oci.tag:{name}:{tag}", resp.headers["Docker-Content-Digest"])
    return units, edges


async def test_expected_units_and_edges_match_what_is_served(registry: Registry) -> None:
    async with asyncio.timeout(20):
        units, edges = await explore(registry)
    expected = registry.repo.expected
    assert edges == expected.edges
    assert set(units) == set(expected.units)
    for key, unit in expected.units.items():
        (artifact,) = unit.artifacts
        assert ("sha256:" + artifact.sha256, artifact.size) == units[key], key
        assert key.startswith(unit.kind + ":")
        is_layer = any(child == key and rel == "layer" for _, child, rel in edges)
        assert artifact.deferred == is_layer, key
    depths = expected.depths()
    assert {d for k, d in depths.items() if k.startswith("oci.tag:")} == {0}
    assert depths["oci.manifest:" + registry.repo.tag_digest("1.1")] == 1
    index = registry.repo.content.manifests[registry.repo.tag_digest("1.0")]
    assert {depths["oci.manifest:" + d] for d, _ in index.children} == {2}
    # the shared base layer: one unit, reached from many manifests
    parents: dict[str, set[str]] = {}
    for parent, child, relation in expected.edges:
        if relation == "layer":
            parents.setdefault(child, set()).add(parent)
    assert max(len(p) for p in parents.values()) >= 4
    # latest aliases the last tag: one target unit with two tag parents
    target = "oci.manifest:" + registry.repo.tag_digest("latest")
    assert {p for p, c, _ in expected.edges if c == target} == {
        "oci.tag:library/app:1.5", "oci.tag:library/app:latest"}


async def test_expected_urls_serve_the_expected_bytes(registry: Registry) -> None:
    async with asyncio.timeout(20):
        for unit in registry.repo.expected.units.values():
            for artifact in unit.artifacts:
                resp, body = await registry.get(artifact.url_path)
                assert resp.status == 200, artifact.url_path
                assert hashlib.sha256(body).hexdigest() == artifact.sha256
                if not unit.kind == "oci.tag":
                    assert artifact.relative_path == "blobs/sha256/" + artifact.sha256


def test_expected_for_platforms_keeps_only_those_index_children() -> None:
    repo = make_oci_repo(tags=4, platforms=["linux/amd64", "linux/arm64/v8"])
    arm_only = repo.expected_for(["linux/arm64/v8"])
    content = repo.content
    index = content.manifests[repo.tag_digest("1.0")]
    amd, arm = (d for d, _ in index.children)
    assert "oci.manifest:" + amd in repo.expected.units
    assert "oci.manifest:" + amd not in arm_only.units
    assert "oci.manifest:" + arm in arm_only.units
    assert json.loads(content.blobs[content.manifests[arm].config].body)["variant"] == "v8"
    # single-manifest tags stay, whatever their platform
    assert "oci.manifest:" + repo.tag_digest("1.1") in arm_only.units
    assert set(arm_only.units) < set(repo.expected.units)
    assert all(p in arm_only.units and c in arm_only.units for p, c, _ in arm_only.edges)


async def test_corrupt_manifest_and_blob_serve_bytes_not_matching_digest(
        registry: Registry) -> None:
    repo = registry.repo
    digest = repo.corrupt_manifest("1.1")
    child = repo.corrupt_manifest("1.0", platform="linux/arm64")
    layer = repo.content.manifests[digest].layers[-1]
    repo.corrupt_blob(layer)
    async with asyncio.timeout(10):
        for path, claimed in [("v2/library/app/manifests/1.1", digest),
                              (f"v2/library/app/manifests/{digest}", digest),
                              (f"v2/library/app/manifests/{child}", child),
                              (f"v2/library/app/blobs/{layer}", layer)]:
            resp, body = await registry.get(path)
            assert resp.status == 200
            assert resp.headers["Docker-Content-Digest"] == claimed
            assert sha(body) != claimed, path
        _, body = await registry.get("v2/library/app/manifests/1.0")
        assert sha(body) == repo.tag_digest("1.0")  # the index itself stays intact


async def test_self_referencing_index_lists_its_claimed_digest(registry: Registry) -> None:
    claimed = registry.repo.self_referencing_index("1.2")
    async with asyncio.timeout(10):
        resp, body = await registry.get("v2/library/app/manifests/1.2")
        assert resp.headers["Docker-Content-Digest"] == claimed
        doc = json.loads(body)
        assert doc["mediaType"] == OCI_INDEX
        assert [m["digest"] for m in doc["manifests"]] == [claimed]
        assert doc["manifests"][0]["size"] == len(body)
        _, again = await registry.get(f"v2/library/app/manifests/{claimed}")
        assert again == body and sha(body) != claimed


def test_generation_is_deterministic_per_seed() -> None:
    def digests(seed: int) -> dict:
        return make_oci_repo(["a/b"], tags=3, seed=seed).content.tags

    assert digests(1) == digests(1)
    assert digests(1) != digests(2)
    repo = make_oci_repo(["a"], tags=2, shared_layers=False, layers=3, docker_every=0)
    layers = [d for m in repo.content.manifests.values() for d in m.layers]
    assert len(layers) == len(set(layers)) == 9  # index of 2 images + 1 image, 3 layers each
    assert not any(m.media_type.startswith("application/vnd.docker")
                   for m in repo.content.manifests.values())
