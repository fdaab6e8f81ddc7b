"""What PyPIRemote declares for a release: the unit, its metadata file and its files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from packaging.tags import Tag, sys_tags
from packaging.utils import parse_wheel_filename

from stagekit.models import Content, DeclarativeArtifact
from stagekit.remotes.pypi.simple import DistFile

__all__ = ["FileFilter", "PyPIRelease", "declare_artifacts", "select_files"]

FileFilter = Literal["all", "install"] | Callable[[DistFile], bool]


@dataclass(frozen=True, slots=True)
class PyPIRelease(Content):
    """One release of a project: ``(normalized name, version)``."""

    kind = "pypi.release"
    name: str
    version: str

    def natural_key(self) -> tuple[str, str]:
        """A release is its project and version."""
        return (self.name, self.version)


def _tag_rank(filename: str, ranks: dict[Tag, int]) -> int | None:
    try:
        _name, _version, _build, tags = parse_wheel_filename(filename)
    except ValueError:
        return None
    found = [ranks[t] for t in tags if t in ranks]
    return min(found) if found else None


def select_files(files: Sequence[DistFile], which: FileFilter) -> list[DistFile]:
    """The files of a release to declare.

    ``"all"``: every usable file; ``"install"``: what pip would download here, the wheel
    whose tags this interpreter ranks best, else the sdist; a callable: the files it keeps.
    """
    if which == "all":
        return list(files)
    if callable(which):
        return [f for f in files if which(f)]
    if which != "install":
        raise ValueError(f"files must be 'all', 'install' or a callable, got {which!r}")
    ranks = {tag: i for i, tag in enumerate(sys_tags())}
    wheels = [(rank, f) for f in files if f.is_wheel
              and (rank := _tag_rank(f.filename, ranks)) is not None]
    if wheels:
        return [min(wheels, key=lambda pair: pair[0])[1]]
    return [f for f in files if not f.is_wheel][:1]


def declare_artifacts(project: str, files: Sequence[DistFile],
                      declared: Sequence[DistFile]) -> tuple[list[DeclarativeArtifact],
                                                             DistFile | None]:
    """The artifacts of a release and the file whose ``.metadata`` was declared (if any).

    The PEP 658 metadata file of the first wheel offering one is fetched (discovery reads
    it, verified by the index's sha256); ``declared`` distribution files are deferred.
    """
    artifacts: list[DeclarativeArtifact] = []
    with_meta = next((f for f in files if f.is_wheel and f.metadata is not None), None)
    if with_meta is not None:
        assert with_meta.metadata is not None
        digests = {k: v for k, v in with_meta.metadata.items() if k == "sha256"}
        artifacts.append(DeclarativeArtifact(with_meta.metadata_url,
                                             f"{project}/{with_meta.filename}.metadata",
                                             digests=digests))
    for f in declared:
        digests = {k: v for k, v in f.hashes.items() if k == "sha256"}
        artifacts.append(DeclarativeArtifact(f.url, f"{project}/{f.filename}", digests=digests,
                                             size=f.size, deferred=True))
    return artifacts, with_meta
