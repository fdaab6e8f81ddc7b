"""Maven version ordering, version ranges and maven-metadata.xml version picking."""

from __future__ import annotations

import itertools
import re

import pytest

from stagekit.errors import MetadataError
from stagekit.remotes.maven.metadata import parse_metadata, pick_version, resolve_range
from stagekit.remotes.maven.versions import (
    ComparableVersion,
    compare_versions,
    highest_matching,
    highest_version,
    is_range,
    parse_range,
)

# Increasing sequences from maven-artifact's ComparableVersionTest.
QUALIFIERS = (
    "1-alpha2snapshot 1-alpha2 1-alpha-123 1-beta-2 1-beta123 1-m2 1-m11 1-rc 1-cr2 1-rc123 "
    "1-SNAPSHOT 1 1-sp 1-sp2 1-sp123 1-abc 1-def 1-pom-1 1-1-snapshot 1-1 1-2 1-123"
).split()
NUMBERS = (
    "2.0 2.0.a 2-1 2.0.2 2.0.123 2.1.0 2.1-a 2.1b 2.1-c 2.1-1 2.1.0.1 2.2 2.123 11.a2 11.a11 "
    "11.b2 11.b11 11.m2 11.m11 11 11.a 11b 11c 11m"
).split()


@pytest.mark.parametrize("sequence", [QUALIFIERS, NUMBERS], ids=["qualifiers", "numbers"])
def test_versions_sort_in_maven_order(sequence):
    for i, low in enumerate(sequence):
        for high in sequence[i + 1 :]:
            assert compare_versions(low, high) == -1, (low, high)
            assert compare_versions(high, low) == 1, (high, low)
    shuffled = list(reversed(sequence))
    assert sorted(shuffled, key=ComparableVersion) == sequence


@pytest.mark.parametrize("a,b", [
    ("1", "1.0"), ("1", "1.0.0"), ("1", "1-0"), ("1.0", "1.0-0"), ("1a", "1-a"),
    ("1a", "1.0.0-a"), ("1ga", "1"), ("1.0-final", "1"), ("1release", "1"), ("1cr", "1rc"),
    ("1a1", "1-alpha-1"), ("1b2", "1-beta-2"), ("1m3", "1-milestone-3"), ("1X", "1x"),
    ("1-SNAPSHOT", "1-snapshot"), ("01.002", "1.2"), ("1..1", "1.0.1"),
])
def test_equal_versions_compare_and_hash_equal(a, b):
    assert compare_versions(a, b) == 0
    assert ComparableVersion(a) == ComparableVersion(b)
    assert hash(ComparableVersion(a)) == hash(ComparableVersion(b))


def test_qualifier_order_and_numeric_items():
    chain = ["1-alpha", "1-beta", "1-milestone", "1-rc", "1-snapshot", "1", "1-sp", "1-zzz"]
    assert [compare_versions(a, b) for a, b in itertools.pairwise(chain)] == [-1] * 7
    assert compare_versions("1.10", "1.9") == 1  # numeric, not lexical
    assert compare_versions("1.0.0.RC1", "1.0.0") == -1
    assert highest_version(["1.9", "1.10", "1.2"]) == "1.10"
    assert highest_version([]) is None


def test_parse_range_forms():
    r = parse_range("[1.0,2.0)")
    assert r.is_range and r.contains("1.0") and r.contains("1.99") and not r.contains("2.0")
    assert not r.contains("0.9")
    r = parse_range("(,1.0]")
    assert r.contains("0.1") and r.contains("1.0") and not r.contains("1.0.1")
    r = parse_range("[1.2]")
    assert r.contains("1.2") and r.contains("1.2.0") and not r.contains("1.2.1")
    r = parse_range("[1.0,)")
    assert r.contains("99") and not r.contains("1.0-alpha")
    r = parse_range("(,1.0],[1.2,)")
    assert len(r.restrictions) == 2
    assert r.contains("1.0") and not r.contains("1.1") and r.contains("1.2")
    soft = parse_range("1.0")
    assert not soft.is_range and soft.recommended == "1.0" and soft.contains("5.0")
    assert is_range(" [1,2]") and not is_range("1.0")


@pytest.mark.parametrize("spec", ["[1.0", "(1.0)", "[2.0,1.0]", "[1.0,1.0]", "[1,3],[2,4]",
                                  "[1,2],3", ""])
def test_invalid_ranges_raise_metadata_error(spec):
    with pytest.raises(MetadataError, match="invalid version range"):
        parse_range(spec)


def test_highest_matching():
    versions = ["0.9", "1.0", "1.5", "1.10", "2.0", "2.1"]
    assert highest_matching("[1.0,2.0)", versions) == "1.10"
    assert highest_matching("(,1.0],[1.2,)", ["0.5", "1.1"]) == "0.5"
    assert highest_matching("[1.2]", ["1.1", "1.2", "1.3"]) == "1.2"
    assert highest_matching("[3.0,)", versions) is None
    assert highest_matching("1.0", versions) == "1.0"  # soft: the version itself
    assert highest_matching("1.7", versions) == "1.7"


META = b"""<?xml version="1.0" encoding="UTF-8"?>
<metadata>
  <groupId>org.example</groupId>
  <artifactId>lib</artifactId>
  <versioning>
    <latest>2.1-SNAPSHOT</latest>
    <release>2.0</release>
    <versions>
      <version>1.0</version><version>1.10</version><version>2.0</version>
      <version>2.1-SNAPSHOT</version>
    </versions>
    <lastUpdated>20240102030405</lastUpdated>
  </versioning>
</metadata>"""


def test_parse_metadata_and_pick_version():
    meta = parse_metadata(META, url="http://127.0.0.1/m.xml")
    assert meta.versions == ("1.0", "1.10", "2.0", "2.1-SNAPSHOT")
    assert (meta.group, meta.artifact) == ("org.example", "lib")
    assert meta.last_updated == "20240102030405"
    assert pick_version(meta) == "2.0"
    no_release = META.replace(b"<release>2.0</release>", b"")
    assert pick_version(parse_metadata(no_release, url="u")) == "2.1-SNAPSHOT"
    bare = no_release.replace(b"<latest>2.1-SNAPSHOT</latest>", b"")
    assert pick_version(parse_metadata(bare, url="u")) == "2.1-SNAPSHOT"
    only_versions = bare.replace(b"<version>2.1-SNAPSHOT</version>", b"")
    assert pick_version(parse_metadata(only_versions, url="u")) == "2.0"
    assert resolve_range(meta, "[1.0,2.0)") == "1.10"


def test_metadata_errors_name_the_url():
    with pytest.raises(MetadataError, match=re.escape("http://127.0.0.1/bad.xml")):
        parse_metadata(b"<metadata><versioning>", url="http://127.0.0.1/bad.xml")
    with pytest.raises(MetadataError, match="expected <metadata>"):
        parse_metadata(b"<project/>", url="u")
    meta = parse_metadata(META, url="http://127.0.0.1/m.xml")
    with pytest.raises(MetadataError, match=r"m\.xml.*no version .* matches '\[5,\)'"):
        resolve_range(meta, "[5,)")
