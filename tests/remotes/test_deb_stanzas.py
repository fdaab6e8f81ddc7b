"""The lean stanza readers keep what python-debian would, for the fields asked for."""

from __future__ import annotations

import io
import random

import pytest
from debian import deb822

from stagekit.remotes.deb_index import STANZA_FIELDS
from stagekit.remotes.deb_stanzas import StanzaParser, StanzaTooLarge, iter_stanzas
from stagekit.testing.debian_packages import generate_packages

TEXT = (
    "Package: a\nVersion: 1.0\nDescription: first line\n more\n .\n end\nSHA256: AB\n"
    "\n\n"
    "package: b\nSIZE: 3\n# a comment\nnot a field line\nDepends: x (>= 1)\n"
    "\r\n"
    "Homepage: only unwanted\n"
    "\n"
    "Package: c\r\nVersion: 2\r\n"
)


def test_wanted_fields_only_spelled_as_asked_with_continuations():
    got = list(iter_stanzas(io.StringIO(TEXT), ["Package", "Version", "Size", "Description"]))
    assert got == [
        {"Package": "a", "Version": "1.0", "Description": "first line\n more\n .\n end"},
        {"Package": "b", "Size": "3"},
        {},  # a stanza with none of the wanted fields is still a stanza
        {"Package": "c", "Version": "2"},
    ]


def test_every_field_when_none_asked():
    got = list(iter_stanzas(io.StringIO(TEXT)))
    assert got[1] == {"package": "b", "SIZE": "3", "Depends": "x (>= 1)"}
    assert len(got) == 4


def test_same_values_as_python_debian_on_a_generated_index():
    by_component, _ = generate_packages(["main"], ["amd64"], 300, 1000, False, 7, seed=3)
    packages = by_component["main"]
    text = "\n".join(p.stanza() for p in packages)
    ours = list(iter_stanzas(io.StringIO(text), STANZA_FIELDS))
    theirs = [dict(p) for p in deb822.Packages.iter_paragraphs(
        io.StringIO(text), fields=STANZA_FIELDS, use_apt_pkg=False)]
    full = [dict(p) for p in deb822.Packages.iter_paragraphs(io.StringIO(text),
                                                              use_apt_pkg=False)]
    assert len(ours) == len(packages) > 100
    assert ours == theirs
    assert _fed_in_blocks(text, STANZA_FIELDS, random.Random(1)) == theirs
    assert list(iter_stanzas(io.StringIO(text))) == full


def _fed_in_blocks(text: str, fields: list[str] | None, rng: random.Random
                   ) -> list[dict[str, str]]:
    """`StanzaParser` fed ``text`` in blocks of 1-5 whole lines."""
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]] + ([pieces[-1] + "\n"] if pieces[-1] else [])
    parser = StanzaParser(fields)
    got: list[dict[str, str]] = []
    start = 0
    while start < len(lines):
        stop = start + rng.randint(1, 5)
        got += parser.feed("".join(lines[start:stop]))
        start = stop
    return got + parser.finish()


def test_block_parser_gives_what_the_line_reader_gives_however_the_text_is_cut():
    rng = random.Random(5)
    odd_lines = ["Package: x", "package: y", "Version: 1", " cont", "\t", " ", "", "#c",
                 "no colon", ":v", "\r", " x\r", "Size: 3\r", "SHA256:  z ", " \xa0",
                 "\x0bfoo: 1", "Description: d", " .", "Filename: f"]
    texts = [TEXT] + ["\n".join(rng.choice(odd_lines) for _ in range(rng.randint(0, 12)))
                      + rng.choice(["", "\n"]) for _ in range(3000)]
    for text in texts:
        for fields in (STANZA_FIELDS, None):
            assert _fed_in_blocks(text, fields, rng) == list(
                iter_stanzas(io.StringIO(text), fields)), (text, fields)


def test_block_parser_bounds_a_stanza_that_never_ends():
    parser = StanzaParser(STANZA_FIELDS, max_chars=1000)
    assert parser.feed("Package: a\n\nPackage: b\n") == [{"Package": "a"}]
    with pytest.raises(StanzaTooLarge):
        for _ in range(100):
            parser.feed("Description: more and more text without an empty line\n")
