"""What one run of `PyPIRemote` knows, and the table columns made from it.

The remote holds only configuration; `RunState` is made by its ``open`` and kept after
the run so that `annotate` can say which requirement chose each release.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stagekit.models import DeclarativeArtifact, DeclarativeContent
from stagekit.remotes.pypi.client import IndexClient
from stagekit.remotes.pypi.coremeta import CoreMetadata
from stagekit.remotes.pypi.fixpoint import Fixpoint
from stagekit.remotes.pypi.simple import DistFile

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ReleaseState", "RunState", "annotate_frame"]

Identity = tuple[str, str]


@dataclass(slots=True)
class ReleaseState:
    """What the run knows of one declared release."""

    files: list[DistFile]
    metadata_file: DistFile | None
    requires_python: str | None
    # Until the release is explored, each unit declared for it carries them: the engine
    # puts whichever arrives first (a `RunContext.declare` may overtake a yield).
    artifacts: list[DeclarativeArtifact] | None = None
    metadata: asyncio.Task[CoreMetadata] | None = None
    unknown: bool = False

    def read(self) -> CoreMetadata | None:
        """The release's metadata if it was read."""
        task = self.metadata
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()


@dataclass(slots=True)
class RunState:
    """Per-run state: the index client, the requirement fixpoint, the declared releases
    and the unit each explored release was put as (to declare children under it)."""

    client: IndexClient
    fixpoint: Fixpoint
    env: dict[str, str]
    python_version: str
    releases: dict[Identity, ReleaseState] = field(default_factory=dict)
    dcs: dict[str, DeclarativeContent] = field(default_factory=dict)


def annotate_frame(frame: pd.DataFrame, state: RunState | None) -> pd.DataFrame:
    """Add ``name``, ``version``, ``requirement`` (what chose it), ``requires_python``,
    ``dependencies_known``, ``chosen`` (in the answer: a live requirement leads to it),
    ``chosen_depth`` (its shortest depth through live requirements), ``superseded_by``
    (the version(s) chosen instead) and ``conflict`` (text, <NA> when none).

    Without ``state`` (a run read back from the catalog) only name and version are known.
    """
    import pandas as pd

    parts = frame["key"].astype("string").str.extract(r"^pypi\.release:([^:]+):(.+)$")
    frame = frame.assign(name=parts[0].astype("string"), version=parts[1].astype("string"))
    rows = list(zip(frame["name"], frame["version"], strict=True))

    def column(values: list[Any], dtype: str) -> pd.Series[Any]:
        return pd.Series(values, index=frame.index, dtype=dtype)

    if state is None:
        na = [pd.NA] * len(rows)
        for name in ("requirement", "requires_python", "superseded_by", "conflict"):
            frame[name] = column(na, "string")
        frame["dependencies_known"] = column(na, "boolean")
        frame["chosen"] = column(na, "boolean")
        frame["chosen_depth"] = column(na, "Int64")
        return frame
    sel = state.fixpoint
    infos = [None if n is pd.NA else state.releases.get((n, v)) for n, v in rows]
    metadata = [i.read() if i is not None else None for i in infos]
    frame["requirement"] = column([sel.chosen_by.get((n, v), pd.NA) for n, v in rows], "string")
    frame["requires_python"] = column(
        [(m.requires_python if m is not None else None)
         or (i.requires_python if i is not None else None) or pd.NA
         for i, m in zip(infos, metadata, strict=True)], "string")
    frame["dependencies_known"] = column(
        [pd.NA if i is None or (m is None and not i.unknown) else not i.unknown
         for i, m in zip(infos, metadata, strict=True)], "boolean")
    live = sel.live()
    depths, _edges = sel.answer()
    frame["chosen"] = column([pd.NA if n is pd.NA or (n, v) not in sel.releases
                              else (n, v) in live for n, v in rows], "boolean")
    frame["chosen_depth"] = column([depths.get(k, pd.NA) for k in frame["key"]], "Int64")
    frame["superseded_by"] = column([sel.superseded.get((n, v), pd.NA) for n, v in rows],
                                    "string")
    frame["conflict"] = column(["; ".join(sel.conflicts[(n, v)]) if (n, v) in sel.conflicts
                                else pd.NA for n, v in rows], "string")
    return frame
