"""Which release of a project a requirement leads to, as pip would pick it (no backtracking).

`parse_requirement` and `followed` decide whether a ``Requires-Dist`` line is followed in
an environment with a set of extras; `choose_version` picks the newest version of a
project page that satisfies a specifier set. Which requirements count together is
`stagekit.remotes.pypi.fixpoint`'s job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from packaging.markers import Marker, default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from stagekit.errors import MetadataError
from stagekit.remotes.pypi.simple import DistFile, ProjectPage

__all__ = [
    "choose_version",
    "environment",
    "followed",
    "is_exact_pin",
    "parse_requirement",
    "usable_files",
]


def environment(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """PEP 508 marker variables: the running interpreter's, updated with ``overrides``."""
    env: dict[str, str] = {k: str(v) for k, v in default_environment().items()}
    env.update(overrides or {})
    return env


def parse_requirement(text: str, where: str = "requirement") -> Requirement:
    """A PEP 508 requirement; `MetadataError` naming ``where`` and the text when invalid."""
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise MetadataError(f"{where}: invalid requirement {text!r}: {exc}", field=where) from None
    if req.url:
        raise MetadataError(f"{where}: direct URL requirement {text!r} is not followed",
                            field=where)
    return req


def followed(req: Requirement, env: Mapping[str, str], extras: Iterable[str]) -> bool:
    """Whether ``req`` applies in ``env`` for a release installed with ``extras``."""
    marker: Marker | None = req.marker
    if marker is None:
        return True
    for extra in ("", *extras):
        if marker.evaluate({**env, "extra": extra}):
            return True
    return False


def is_exact_pin(spec: SpecifierSet) -> bool:
    """PEP 592: ``==`` without a wildcard, or ``===``, may select a yanked file."""
    return any(s.operator == "===" or (s.operator == "==" and not s.version.endswith(".*"))
               for s in spec)


def _python_ok(file: DistFile, python_version: str) -> bool:
    if not file.requires_python:
        return True
    try:
        return SpecifierSet(file.requires_python).contains(python_version, prereleases=True)
    except InvalidSpecifier:
        return False  # as pip: a file whose requires-python cannot be read is not used


def usable_files(files: Iterable[DistFile], python_version: str, *, include_sdists: bool = True,
                 yanked: bool = False) -> list[DistFile]:
    """Files an installer on ``python_version`` may use (yanked ones only if ``yanked``)."""
    return [f for f in files
            if (include_sdists or f.is_wheel) and (yanked or f.yanked is None)
            and _python_ok(f, python_version)]


def choose_version(page: ProjectPage, spec: SpecifierSet, *, python_version: str,
                   prereleases: bool = False, include_sdists: bool = True) -> Version | None:
    """The newest version of ``page`` that ``spec`` allows and that has a usable file.

    Pre-releases only with ``prereleases``, when ``spec`` names one, or when nothing else
    matches (packaging's rule, which is pip's). Yanked files count only for an exact pin.
    """
    grouped = page.by_version()
    allow: bool | None = True if prereleases else None
    for with_yanked in (False, True):
        if with_yanked and not is_exact_pin(spec):
            break
        candidates = [v for v, files in grouped.items()
                      if usable_files(files, python_version, include_sdists=include_sdists,
                                      yanked=with_yanked)]
        matching = list(spec.filter(candidates, prereleases=allow))
        if matching:
            return max(matching)
    return None
