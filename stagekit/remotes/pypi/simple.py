"""Reading a simple repository's project page: PEP 691 JSON or PEP 503 HTML.

`parse_project_page` turns the bytes of ``.../simple/<name>/`` into a `ProjectPage`:
its files with absolute URLs (relative links resolved against the page URL), hashes,
``requires-python``, yanked state (PEP 592), size and PEP 700 ``versions`` when given,
and the PEP 658/714 core-metadata offer. PEP 629: a page whose major repository version
is not 1 is refused; a newer minor version is read as 1.x.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from stagekit.errors import MetadataError, UnsafeURLError
from stagekit.urls import handed_url, redact_url

__all__ = [
    "ACCEPT",
    "JSON_TYPE",
    "DistFile",
    "ProjectPage",
    "dist_version",
    "parse_html",
    "parse_json",
    "parse_project_page",
    "project_url",
]

log = logging.getLogger(__name__)

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPES = ("application/vnd.pypi.simple.v1+html", "text/html")
# PEP 691: JSON preferred, HTML accepted; a server that ignores Accept sends text/html.
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
SUPPORTED_MAJOR = 1
_HEX = re.compile(r"^[0-9a-fA-F]+$")


@dataclass(frozen=True, slots=True)
class DistFile:
    """One distribution file a project page lists.

    ``yanked`` is None when not yanked, else the reason ("" when none was given).
    ``metadata`` is None when the index offers no ``.metadata`` file (PEP 658/714),
    else its hashes (empty when offered without one).
    """

    filename: str
    url: str
    version: Version
    hashes: Mapping[str, str] = field(default_factory=dict)
    requires_python: str | None = None
    yanked: str | None = None
    size: int | None = None
    metadata: Mapping[str, str] | None = None

    @property
    def is_wheel(self) -> bool:
        """Whether the file is a wheel (else an sdist)."""
        return self.filename.endswith(".whl")

    @property
    def metadata_url(self) -> str:
        """Where PEP 658 puts the core metadata of this file."""
        return self.url + ".metadata"


@dataclass(frozen=True, slots=True)
class ProjectPage:
    """A project's page: files usable by an installer, ``versions`` (PEP 700) if listed."""

    name: NormalizedName
    url: str
    api_version: str
    files: tuple[DistFile, ...]
    versions: tuple[str, ...] | None = None

    def by_version(self) -> dict[Version, list[DistFile]]:
        """Files grouped by version."""
        grouped: dict[Version, list[DistFile]] = {}
        for f in self.files:
            grouped.setdefault(f.version, []).append(f)
        return grouped


def project_url(index_url: str, name: str) -> str:
    """The page URL of project ``name`` (normalized, PEP 503) under ``index_url``."""
    base = index_url if index_url.endswith("/") else index_url + "/"
    return f"{base}{canonicalize_name(name)}/"


def dist_version(filename: str, project: str) -> Version | None:
    """The version in a wheel or sdist ``filename`` of ``project``; None if not one of its."""
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
        elif filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return version if name == canonicalize_name(project) else None


def _check_api_version(version: str | None, url: str) -> str:
    if not version:
        return "1.0"
    major, _, minor = version.partition(".")
    if not major.isdigit() or (minor and not minor.isdigit()):
        raise MetadataError(f"{redact_url(url)}: repository version {version!r} is not N.M",
                            url=redact_url(url), field="api-version")
    if int(major) != SUPPORTED_MAJOR:
        raise MetadataError(f"{redact_url(url)}: repository version {version} is not supported "
                            f"(this client reads {SUPPORTED_MAJOR}.x)", url=redact_url(url),
                            field="api-version")
    return version


def _clean_hashes(raw: Any, url: str, what: str) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise MetadataError(f"{redact_url(url)}: {what} must be an object, got "
                            f"{type(raw).__name__}", url=redact_url(url), field=what)
    out: dict[str, str] = {}
    for algorithm, value in raw.items():
        name = str(algorithm).lower()
        if isinstance(value, str) and _HEX.match(value) and name in ("sha256", "sha384",
                                                                      "sha512", "sha1", "md5"):
            out[name] = value.lower()
    return out


def _file(page_url: str, project: str, filename: str, href: str, hashes: dict[str, str],
          requires_python: str | None, yanked: str | None, size: int | None,
          metadata: dict[str, str] | None) -> DistFile | None:
    """A `DistFile`, or None for a file an installer would not use (other formats, names)."""
    if "/" in filename or "\\" in filename or not filename:
        return None
    version = dist_version(filename, project)
    if version is None:
        return None
    try:  # files may live on another host (a CDN), but only ever on http(s)
        url, fragment = urldefrag(handed_url(href, base=page_url, what=f"link to {filename}",
                                             same_origin=False))
    except UnsafeURLError as exc:
        log.warning("%s: skipping %s: %s", redact_url(page_url), filename, exc)
        return None
    if fragment and "=" in fragment:  # PEP 503: #<hashname>=<hexdigest>
        algorithm, _, value = fragment.partition("=")
        if _HEX.match(value):
            hashes = {algorithm.lower(): value.lower(), **hashes}
    return DistFile(filename, url, version, hashes, requires_python or None, yanked, size,
                    metadata)


def parse_json(body: bytes, url: str, project: str) -> ProjectPage:
    """A PEP 691 JSON project page; `MetadataError` naming the field when malformed."""
    rurl = redact_url(url)
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MetadataError(f"{rurl}: not JSON: {exc}", url=rurl) from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise MetadataError(f"{rurl}: a JSON project page needs a 'files' list", url=rurl,
                            field="files")
    raw_meta = data.get("meta")
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    api = _check_api_version(str(meta.get("api-version") or ""), url)
    files: list[DistFile] = []
    for i, raw in enumerate(data["files"]):
        if not isinstance(raw, dict) or not isinstance(raw.get("filename"), str) \
                or not isinstance(raw.get("url"), str):
            raise MetadataError(f"{rurl}: files[{i}] needs a string filename and url",
                                url=rurl, field=f"files[{i}]")
        hashes = _clean_hashes(raw.get("hashes", {}), url, f"files[{i}].hashes")
        yanked_raw = raw.get("yanked", False)
        yanked = (yanked_raw if isinstance(yanked_raw, str)
                  else "" if yanked_raw is True else None)
        core = raw.get("core-metadata", raw.get("dist-info-metadata", False))
        metadata: dict[str, str] | None
        if core is True:
            metadata = {}
        elif isinstance(core, dict):
            metadata = _clean_hashes(core, url, f"files[{i}].core-metadata")
        else:
            metadata = None
        size = raw.get("size")
        size = size if isinstance(size, int) and size >= 0 else None
        rp = raw.get("requires-python")
        f = _file(url, project, raw["filename"], raw["url"], hashes,
                  rp if isinstance(rp, str) else None, yanked, size, metadata)
        if f is not None:
            files.append(f)
    versions = data.get("versions")
    vtuple = tuple(str(v) for v in versions) if isinstance(versions, list) else None
    # The project asked for names the page: a page's own "name" field is not trusted.
    return ProjectPage(canonicalize_name(project), url, api, tuple(files), vtuple)


class _Anchors(HTMLParser):
    """Collects ``<a>`` tags (href, text, data-* attributes) and the repository version."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], list[str]]] = []
        self.api_version: str | None = None
        self._open: list[str] | None = None
        self.tags = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags += 1
        if tag == "a":
            text: list[str] = []
            self.anchors.append((dict(attrs), text))
            self._open = text
        elif tag == "meta":
            d = dict(attrs)
            if d.get("name") == "pypi:repository-version":
                self.api_version = d.get("content")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.append(data)


def _parse_hash_attr(value: str | None) -> dict[str, str] | None:
    """``data-core-metadata``: absent -> None, "true" -> {}, "sha256=..." -> its hash."""
    if value is None or value.lower() == "false":
        return None
    algorithm, sep, digest = value.partition("=")
    if sep and _HEX.match(digest):
        return {algorithm.lower(): digest.lower()}
    return {}


def parse_html(body: bytes, url: str, project: str) -> ProjectPage:
    """A PEP 503 HTML project page (with the PEP 592/629/658/714 attributes)."""
    rurl = redact_url(url)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MetadataError(f"{rurl}: HTML page is not UTF-8: {exc}", url=rurl) from None
    parser = _Anchors()
    parser.feed(text)
    parser.close()
    if parser.tags == 0:
        raise MetadataError(f"{rurl}: not an HTML project page (no tags)", url=rurl)
    api = _check_api_version(parser.api_version, url)
    files: list[DistFile] = []
    for attrs, text_parts in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        filename = "".join(text_parts).strip() or urlsplit(href).path.rsplit("/", 1)[-1]
        yanked = (attrs.get("data-yanked") or "") if "data-yanked" in attrs else None
        metadata = _parse_hash_attr(attrs.get("data-core-metadata",
                                              attrs.get("data-dist-info-metadata")))
        f = _file(url, project, filename, href, {}, attrs.get("data-requires-python"),
                  yanked, None, metadata)
        if f is not None:
            files.append(f)
    return ProjectPage(canonicalize_name(project), url, api, tuple(files))


def parse_project_page(body: bytes, content_type: str, url: str, project: str) -> ProjectPage:
    """The page in whichever format ``content_type`` says; `MetadataError` when neither."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == JSON_TYPE:
        return parse_json(body, url, project)
    if kind in HTML_TYPES:
        return parse_html(body, url, project)
    rurl = redact_url(url)
    raise MetadataError(f"{rurl}: project page has Content-Type {kind or '(none)'!r}, "
                        f"neither simple JSON nor HTML", url=rurl, field="Content-Type")
