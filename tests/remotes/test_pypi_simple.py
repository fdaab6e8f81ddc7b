"""Project pages of a simple repository: PEP 691 JSON, PEP 503 HTML and their extensions."""

from __future__ import annotations

import json

import pytest
from packaging.version import Version

from stagekit.errors import MetadataError
from stagekit.remotes.pypi.simple import (
    ACCEPT,
    JSON_TYPE,
    parse_html,
    parse_json,
    parse_project_page,
    project_url,
)

PAGE = "https://index.test/simple/demo/"
SHA = "a" * 64


def html_page(body: str, version: str | None = "1.1") -> bytes:
    meta = f'<meta name="pypi:repository-version" content="{version}">' if version else ""
    return f"<!DOCTYPE html><html><head>{meta}</head><body>{body}</body></html>".encode()


def test_json_page_reads_files_hashes_sizes_yanked_and_versions():
    data = {
        "meta": {"api-version": "1.1"}, "name": "Demo", "versions": ["1.0", "2.0"],
        "files": [
            {"filename": "demo-1.0-py3-none-any.whl",
             "url": "../../packages/demo-1.0-py3-none-any.whl",
             "hashes": {"sha256": SHA.upper()}, "requires-python": ">=3.8", "size": 123,
             "core-metadata": {"sha256": "b" * 64}},
            {"filename": "demo-2.0.tar.gz", "url": "https://files.test/demo-2.0.tar.gz",
             "hashes": {}, "yanked": "broken", "dist-info-metadata": True},
            {"filename": "demo-2.0-py3-none-any.whl", "url": "x.whl", "hashes": {},
             "yanked": True},
            {"filename": "other-1.0.tar.gz", "url": "other-1.0.tar.gz", "hashes": {}},
            {"filename": "demo-1.0.exe", "url": "demo-1.0.exe", "hashes": {}},
        ],
    }
    page = parse_json(json.dumps(data).encode(), PAGE, "demo")
    assert page.name == "demo" and page.api_version == "1.1"
    assert page.versions == ("1.0", "2.0")
    wheel, sdist, yanked_wheel = page.files
    assert wheel.url == "https://index.test/packages/demo-1.0-py3-none-any.whl"
    assert (wheel.version, wheel.hashes, wheel.size, wheel.requires_python) == (
        Version("1.0"), {"sha256": SHA}, 123, ">=3.8")
    assert wheel.metadata == {"sha256": "b" * 64} and wheel.yanked is None
    assert wheel.metadata_url.endswith("demo-1.0-py3-none-any.whl.metadata")
    assert (sdist.yanked, sdist.metadata, sdist.is_wheel) == ("broken", {}, False)
    assert yanked_wheel.yanked == "" and yanked_wheel.url == PAGE + "x.whl"


def test_html_page_reads_fragment_hashes_escaped_attributes_and_yanked():
    body = html_page(
        f'<a href="../../packages/demo-1.0-py3-none-any.whl#sha256={SHA}" '
        f'data-requires-python="&gt;=3.8" data-core-metadata="sha256={"c" * 64}">'
        f'demo-1.0-py3-none-any.whl</a>'
        '<a href="/files/demo-2.0.tar.gz" data-yanked>demo-2.0.tar.gz</a>'
        '<a href="demo-3.0.zip" data-yanked="bad" data-dist-info-metadata="true">demo-3.0.zip</a>'
        '<a>no href</a>')
    page = parse_html(body, PAGE, "demo")
    one, two, three = page.files
    assert one.url == "https://index.test/packages/demo-1.0-py3-none-any.whl"
    assert one.hashes == {"sha256": SHA} and one.requires_python == ">=3.8"
    assert one.metadata == {"sha256": "c" * 64}
    assert two.url == "https://index.test/files/demo-2.0.tar.gz" and two.yanked == ""
    assert (three.yanked, three.metadata, three.version) == ("bad", {}, Version("3.0"))
    assert page.versions is None


@pytest.mark.parametrize("version", ["2.0", "x.y"])
def test_unsupported_repository_version_is_refused(version):
    with pytest.raises(MetadataError, match="repository version"):
        parse_html(html_page("", version), PAGE, "demo")
    with pytest.raises(MetadataError, match="repository version"):
        parse_json(json.dumps({"meta": {"api-version": version}, "files": []}).encode(),
                   PAGE, "demo")


def test_newer_minor_version_and_missing_version_are_read():
    assert parse_html(html_page("<a href='demo-1.0.tar.gz'>demo-1.0.tar.gz</a>", "1.9"),
                      PAGE, "demo").files
    assert parse_html(html_page("", None), PAGE, "demo").api_version == "1.0"


def test_links_that_are_not_http_are_skipped():
    body = html_page('<a href="file:///etc/demo-1.0.tar.gz">demo-1.0.tar.gz</a>'
                     '<a href="javascript:x">demo-2.0.tar.gz</a>')
    assert parse_html(body, PAGE, "demo").files == ()


@pytest.mark.parametrize(("content_type", "body", "message"), [
    ("image/png", b"\x89PNG", "Content-Type 'image/png'"),
    ("", b"{}", r"Content-Type '\(none\)'"),
    (JSON_TYPE, b"<html>", "not JSON"),
    (JSON_TYPE, b'{"files": 3}', "'files' list"),
    (JSON_TYPE, b'{"files": [{"filename": 1}]}', r"files\[0\]"),
    ("text/html", b"plain text, no tags", "no tags"),
    ("text/html", b"\xff\xfe", "not UTF-8"),
])
def test_a_page_that_is_not_a_project_page_names_url_and_problem(content_type, body, message):
    with pytest.raises(MetadataError, match=message) as info:
        parse_project_page(body, content_type, "https://user:secret@index.test/simple/demo/",
                           "demo")
    assert "secret" not in str(info.value) and "index.test/simple/demo/" in str(info.value)


def test_project_url_normalizes_the_name_and_accept_prefers_json():
    assert project_url("https://i.test/simple", "Foo_Bar.baz") == "https://i.test/simple/foo-bar-baz/"
    assert ACCEPT.startswith(JSON_TYPE)
