"""The bundled remotes, each a `stagekit.Remote`; imported on first use.

``from stagekit.remotes import FileRemote, OCIRemote, DebRemote, MavenRemote, PyPIRemote``
loads only the module of the remote asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stagekit.remotes.deb import DebRemote
    from stagekit.remotes.file import FileRemote
    from stagekit.remotes.maven import MavenRemote
    from stagekit.remotes.oci import OCIRemote
    from stagekit.remotes.pypi import PyPIRemote

__all__ = ["DebRemote", "FileRemote", "MavenRemote", "OCIRemote", "PyPIRemote"]

_WHERE = {
    "DebRemote": "stagekit.remotes.deb",
    "FileRemote": "stagekit.remotes.file",
    "MavenRemote": "stagekit.remotes.maven",
    "OCIRemote": "stagekit.remotes.oci",
    "PyPIRemote": "stagekit.remotes.pypi",
}


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'stagekit.remotes' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
