"""The lean stanza reader keeps what python-debian would, for the fields asked for."""

from __future__ import annotations

import io

from debian import deb822

from stagekit.remotes.deb_index import STANZA_FIELDS
from stagekit.remotes.deb_stanzas import iter_stanzas
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
    assert list(iter_stanzas(io.StringIO(text))) == full
