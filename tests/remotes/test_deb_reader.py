"""PackagesReader: bounded work per read, stanza numbers, and its caps, on stored files."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

import pytest

from stagekit.errors import LimitExceededError, MetadataError
from stagekit.limits import Limits
from stagekit.remotes.deb import DebRemote, _BadStanza
from stagekit.remotes.deb_index import PackagesReader

KiB = 1024


def stanza(number: int, extra: str = "") -> str:
    return (f"Package: p{number}\nVersion: 1.{number}\nArchitecture: amd64\n{extra}"
            f"Filename: pool/p{number}.deb\nSize: {number}\nSHA256: {'a' * 64}\n\n")


def read_all(reader: PackagesReader, count: int = 50) -> list[tuple[int, dict[str, str]]]:
    got: list[tuple[int, dict[str, str]]] = []
    while not reader.finished:
        got += reader.read(count)
    return got


def test_every_stanza_once_with_its_number_across_blocks(tmp_path: Path) -> None:
    text = "".join(stanza(i) for i in range(1, 3001))
    (tmp_path / "i").write_bytes(lzma.compress(text.encode()))
    with PackagesReader(tmp_path / "i", "Packages.xz", "http://h/Packages.xz") as reader:
        got = read_all(reader, count=7)
    assert [number for number, _ in got] == list(range(1, 3001))
    assert got[2999][1] == {"Package": "p3000", "Version": "1.3000", "Architecture": "amd64",
                            "Filename": "pool/p3000.deb", "Size": "3000", "SHA256": "a" * 64}
    assert reader.bytes_read == len(text)


def test_a_read_does_bounded_work_even_when_the_filter_keeps_nothing(tmp_path: Path) -> None:
    text = "".join(stanza(i) for i in range(1, 20001))
    (tmp_path / "i").write_bytes(gzip.compress(text.encode(), 1))
    with PackagesReader(tmp_path / "i", "Packages.gz", "w", select=lambda s: False) as reader:
        assert reader.read(10**9) == []
        assert not reader.finished  # a few blocks read, not the whole index
        assert 0 < reader.stanzas_read < 20000
        assert reader.bytes_read < len(text) // 4
        assert read_all(reader) == []
        assert reader.stanzas_read == 20000


def test_a_stanza_past_its_cap_fails_naming_the_file_and_what_came_before(
        tmp_path: Path) -> None:
    huge = "Description: x\n" + " more text on a continuation line\n" * 10_000  # ~340 KiB
    text = stanza(1) + stanza(2) + stanza(3, huge) + stanza(4)
    (tmp_path / "i").write_bytes(gzip.compress(text.encode()))
    limits = Limits(stanza_bytes=128 * KiB)
    with PackagesReader(tmp_path / "i", "Packages.gz", "http://h/Packages.gz",
                        limits=limits) as reader:
        assert [n for n, _ in reader.read(2)] == [1, 2]
        with pytest.raises(LimitExceededError) as caught:
            read_all(reader)
    message = str(caught.value)
    assert message.startswith("http://h/Packages.gz: a stanza is larger than the limit of "
                              "131072 bytes (Limits.stanza_bytes), after stanza 2")
    assert caught.value.limit == "stanza_bytes"


def test_a_corrupt_stream_fails_naming_the_file(tmp_path: Path) -> None:
    data = bytearray(lzma.compress("".join(stanza(i) for i in range(1, 2000)).encode()))
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "i").write_bytes(bytes(data))
    with PackagesReader(tmp_path / "i", "Packages.xz", "http://h/Packages.xz") as reader:
        with pytest.raises(MetadataError, match=r"^http://h/Packages.xz: cannot read the index"):
            read_all(reader)


def test_a_size_of_non_ascii_digits_fails_the_stanza_naming_the_field() -> None:
    remote = DebRemote("http://127.0.0.1:9/debian", "stable")
    fields = {"Package": "p", "Version": "1", "Architecture": "amd64",
              "Filename": "pool/p.deb", "Size": "1\u00b2", "SHA256": "A" * 64}
    with pytest.raises(_BadStanza) as bad:
        remote._package_unit(fields, "http://h/Packages", 3)
    assert bad.value.content.key == "deb.package:p:1:amd64"
    assert str(bad.value.error) == ("http://h/Packages: stanza 3 (package p 1 amd64) has a "
                                    "malformed Size '1\u00b2'")
    dc = remote._package_unit(fields | {"Size": "12"}, "http://h/Packages", 3)
    assert dc.d_artifacts[0].digests == {"sha256": "a" * 64}
    assert dc.d_artifacts[0].url == "http://127.0.0.1:9/debian/pool/p.deb"
