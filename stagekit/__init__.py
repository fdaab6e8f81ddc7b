"""stagekit: explore and sync remote content repositories with an asyncio pipeline of stages.

``run = await stagekit.explore(remote)`` (or `explore_sync`, or `start` for a background
run) drives a remote through the sync stages and gives back a `Run` with its graph and
DataFrames. A plugin subclasses `Remote` (or `HTTPRemote`) and receives a `RunContext`.
The building blocks are re-exported here: the models, `Stage`, `create_pipeline` and
`default_stages`, the `Store` and every error.
"""

from stagekit.context import RunContext
from stagekit.diff import diff
from stagekit.errors import (
    BodyTooLargeError,
    ConfigurationError,
    DigestMismatchError,
    DownloadError,
    HTTPStatusError,
    LimitExceededError,
    MetadataError,
    PipelineError,
    SignatureError,
    StagekitError,
    StoreError,
    UnitFailedError,
    UnitNotResolvedError,
    UnsafePathError,
    UnsafeURLError,
)
from stagekit.limits import Limits
from stagekit.models import Artifact, Content, DeclarativeArtifact, DeclarativeContent
from stagekit.options import OnError, Policy, Status
from stagekit.pipeline import EndStage, Stage, create_pipeline
from stagekit.remote import HTTPRemote, Remote
from stagekit.run import Run, explore, explore_sync, start
from stagekit.stages import default_stages
from stagekit.storage import Store

__all__ = [
    "Artifact",
    "BodyTooLargeError",
    "ConfigurationError",
    "Content",
    "DeclarativeArtifact",
    "DeclarativeContent",
    "DigestMismatchError",
    "DownloadError",
    "EndStage",
    "HTTPRemote",
    "HTTPStatusError",
    "LimitExceededError",
    "Limits",
    "MetadataError",
    "OnError",
    "PipelineError",
    "Policy",
    "Remote",
    "Run",
    "RunContext",
    "SignatureError",
    "Stage",
    "StagekitError",
    "Status",
    "Store",
    "StoreError",
    "UnitFailedError",
    "UnitNotResolvedError",
    "UnsafePathError",
    "UnsafeURLError",
    "create_pipeline",
    "default_stages",
    "diff",
    "explore",
    "explore_sync",
    "start",
]


def __getattr__(name: str) -> object:
    # The deprecated round-1 base class, imported only by code that still asks for it.
    if name == "Discovery":
        from stagekit.discovery import Discovery

        return Discovery
    raise AttributeError(f"module 'stagekit' has no attribute {name!r}")
