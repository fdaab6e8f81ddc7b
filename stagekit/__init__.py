"""stagekit: explore and sync remote content repositories with an asyncio pipeline of stages.

``run = await stagekit.explore(remote)`` (or `explore_sync`, or `start` for a background
run) drives a remote through the sync stages and gives back a `Run` with its graph and
DataFrames. The building blocks are re-exported here: the models, `Discovery`, `Stage`,
`create_pipeline` and `default_stages`, the `Store` and the errors.
"""

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
