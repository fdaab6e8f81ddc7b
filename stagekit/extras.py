"""Optional dependencies behind extras: whether one is installed, and the error if not.

``pip install 'stagekit[parquet]'`` brings pyarrow (Parquet files), ``stagekit[draw]``
matplotlib (`stagekit.notebook.draw_tree`, ``tree.svg``), ``stagekit[all]`` both.
"""

from __future__ import annotations

import importlib.util

from stagekit.errors import StagekitError

__all__ = ["EXTRAS", "MissingExtraError", "has_extra", "require_extra"]

#: extra -> (module it brings, what needs it)
EXTRAS = {
    "parquet": ("pyarrow", "writing and reading Parquet files"),
    "draw": ("matplotlib", "the depth chart (plot_depths)"),
    "graph": ("anywidget", "the interactive graph (show_graph)"),
    "dask": ("distributed", "running on a Dask cluster (--scheduler, cluster=)"),
}


class MissingExtraError(StagekitError, ImportError):
    """A feature needs an optional dependency that is not installed; names the extra."""


def has_extra(extra: str) -> bool:
    """Whether the module of ``extra`` is importable (without importing it)."""
    module, _what = EXTRAS[extra]
    return importlib.util.find_spec(module) is not None


def require_extra(extra: str) -> None:
    """Raise `MissingExtraError` naming ``pip install 'stagekit[extra]'`` if it is missing."""
    if not has_extra(extra):
        module, what = EXTRAS[extra]
        raise MissingExtraError(f"{what} needs {module}: pip install 'stagekit[{extra}]'")
