"""Version choice and requirement following, as pip does it (without backtracking)."""

from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from stagekit.errors import MetadataError
from stagekit.remotes.pypi.choose import (
    choose_version,
    environment,
    followed,
    parse_requirement,
)
from stagekit.remotes.pypi.simple import DistFile, ProjectPage

PY = "3.11.4"


def page(*releases: tuple[str, dict]) -> ProjectPage:
    files = tuple(DistFile(f"demo-{v}.tar.gz", f"https://i.test/demo-{v}.tar.gz", Version(v),
                           **opts) for v, opts in releases)
    return ProjectPage("demo", "https://i.test/simple/demo/", "1.0", files)


def choose(p: ProjectPage, spec: str = "", **kw) -> str | None:
    v = choose_version(p, SpecifierSet(spec), python_version=PY, **kw)
    return None if v is None else str(v)


def test_newest_matching_final_release_wins():
    p = page(("1.0", {}), ("1.5", {}), ("2.0", {}), ("2.1b1", {}))
    assert choose(p) == "2.0"
    assert choose(p, "<2") == "1.5"
    assert choose(p, ">=2.1b1") == "2.1b1"  # a specifier naming a pre-release allows them
    assert choose(p, prereleases=True) == "2.1b1"
    assert choose(p, ">3") is None


def test_only_pre_releases_are_used_when_nothing_else_matches():
    assert choose(page(("1.0a1", {}), ("1.0a2", {}))) == "1.0a2"


def test_yanked_only_for_an_exact_pin_and_requires_python_respected():
    p = page(("1.0", {}), ("2.0", {"yanked": "bad"}), ("3.0", {"requires_python": ">=4"}),
             ("4.0", {"requires_python": "not a specifier"}))
    assert choose(p) == "1.0"
    assert choose(p, "==2.0") == "2.0"
    assert choose(p, "==2.*") is None
    assert choose(p, "==3.0") is None


def test_markers_follow_environment_and_extras():
    env = environment({"sys_platform": "linux", "python_version": "3.11"})
    assert followed(parse_requirement('a; sys_platform == "linux"'), env, ())
    assert not followed(parse_requirement('a; sys_platform == "win32"'), env, ())
    extra = parse_requirement('a; extra == "fast" and python_version >= "3"')
    assert not followed(extra, env, ())
    assert followed(extra, env, ["slow", "fast"])


@pytest.mark.parametrize("text", ["not a requirement!!", "a @ https://x.test/a.whl", ""])
def test_bad_requirements_are_refused_naming_the_text(text):
    with pytest.raises(MetadataError, match="root"):
        parse_requirement(text, "root")
