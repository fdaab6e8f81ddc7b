"""Generated Python package indexes (PEP 503/691 simple API) with a known answer.

A `PyPIRepoBuilder` takes releases (name, version, Requires-Dist lines, yanked state,
Requires-Python, which files) and roots (requirement strings), and builds a `PyPIRepo`
serving ``simple/`` (index) and ``simple/<name>/`` pages as HTML and JSON by ``Accept``
(or one of them only), the files under ``packages/<name>/`` linked relatively, and the
PEP 658 ``.metadata`` file of each wheel (unless ``metadata_files=False``). Non-normalized
project names (``Foo_Bar``) redirect to the normalized page.

``repo.expected`` is what an explorer with the builder's ``environment`` finds: units
``pypi.release:<name>:<version>`` at their shortest depth, with their ``.metadata`` file
(fetched) and distribution files (deferred), and ``(parent, child, requirement)`` edges.
The answer is computed by `stagekit.testing.pypi_answer` breadth first: see there for the
version rule (no backtracking); scenarios are written so the answer does not depend on the
order in which an explorer meets requirements.
"""

from __future__ import annotations

from collections.abc import Mapping

from stagekit.testing import pypi_scenarios as sc
from stagekit.testing.pypi_build import PyPIRepoBuilder
from stagekit.testing.pypi_repo import JSON_TYPE, Formats, GenRelease, PyPIRepo, normalize

__all__ = ["JSON_TYPE", "GenRelease", "PyPIRepo", "PyPIRepoBuilder", "all_scenarios",
           "make_pypi_repo", "normalize"]


def make_pypi_repo(*, n_releases: int = 0, depth: int = 6, fanout: int = 4, versions: int = 2,
                   payload: int = 0, markers: bool = False, extras: bool = False,
                   cycle: bool = False, yanked: bool = False, prereleases: bool = False,
                   requires_python: bool = False, supersede: bool = False,
                   conflict: bool = False, sdists: bool = False, order: bool = False,
                   formats: Formats = "both",
                   metadata_files: bool = True, environment: Mapping[str, str] | None = None,
                   seed: int = 0) -> PyPIRepo:
    """An index of the chosen scenarios (see `stagekit.testing.pypi_scenarios`) and, when
    ``n_releases`` > 0, a random tree of that many releases under root ``tree-0``."""
    b = PyPIRepoBuilder(formats=formats, metadata_files=metadata_files,
                        environment=environment, seed=seed)
    if n_releases > 0:
        sc.add_tree(b, n_releases, depth=depth, fanout=fanout, versions=versions,
                    payload=payload, seed=seed)
    for wanted, add in ((markers, sc.add_markers), (extras, sc.add_extras),
                        (cycle, sc.add_cycle), (yanked, sc.add_yanked),
                        (prereleases, sc.add_prereleases),
                        (requires_python, sc.add_requires_python), (supersede, sc.add_supersede),
                        (conflict, sc.add_conflict), (sdists, sc.add_sdists),
                        (order, sc.add_order)):
        if wanted:
            add(b)
    return b.build()


def all_scenarios(**kw: object) -> PyPIRepo:
    """Every scenario in one index."""
    return make_pypi_repo(markers=True, extras=True, cycle=True, yanked=True, prereleases=True,
                          requires_python=True, supersede=True, conflict=True, sdists=True,
                          **kw)  # type: ignore[arg-type]
