"""stagekit: explore and sync remote content repositories with an asyncio pipeline of stages.

``run = await stagekit.explore(remote)`` (or `explore_sync`, or `start` for a background
run) drives a remote through the sync stages and gives back a `Run` with its graph and
DataFrames. The building blocks are re-exported here: the models, `Discovery`, `Stage`,
`create_pipeline` and `default_stages`, the `Store` and the errors.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stagekit.discovery import Discovery
    from stagekit.errors import (
        DigestMismatchError,
        DownloadError,
        MetadataError,
        StagekitError,
        UnitFailedError,
        UnitNotResolvedError,
        UnsafePathError,
    )
    from stagekit.models import Artifact, Content, DeclarativeArtifact, DeclarativeContent
    from stagekit.pipeline import EndStage, Stage, create_pipeline
    from stagekit.run import Run, explore, explore_sync, start
    from stagekit.stages import default_stages
    from stagekit.storage import Store

# Public name -> module. Imported on first use, so that `stagekit --help` and other
# light entry points do not pay for aiohttp, pandas and the pipeline.
_EXPORTS = {
    "Discovery": "stagekit.discovery",
    "DigestMismatchError": "stagekit.errors",
    "DownloadError": "stagekit.errors",
    "MetadataError": "stagekit.errors",
    "StagekitError": "stagekit.errors",
    "UnitFailedError": "stagekit.errors",
    "UnitNotResolvedError": "stagekit.errors",
    "UnsafePathError": "stagekit.errors",
    "Artifact": "stagekit.models",
    "Content": "stagekit.models",
    "DeclarativeArtifact": "stagekit.models",
    "DeclarativeContent": "stagekit.models",
    "EndStage": "stagekit.pipeline",
    "Stage": "stagekit.pipeline",
    "create_pipeline": "stagekit.pipeline",
    "Run": "stagekit.run",
    "explore": "stagekit.run",
    "explore_sync": "stagekit.run",
    "start": "stagekit.run",
    "default_stages": "stagekit.stages",
    "Store": "stagekit.storage",
}

__all__ = [
    "Artifact",
    "Content",
    "DeclarativeArtifact",
    "DeclarativeContent",
    "DigestMismatchError",
    "Discovery",
    "DownloadError",
    "EndStage",
    "MetadataError",
    "Run",
    "Stage",
    "StagekitError",
    "Store",
    "UnitFailedError",
    "UnitNotResolvedError",
    "UnsafePathError",
    "create_pipeline",
    "default_stages",
    "explore",
    "explore_sync",
    "start",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stagekit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
