"""stagekit: explore and sync remote content repositories with an asyncio pipeline of stages.

``run = await stagekit.explore(remote)`` (or `explore_sync`, or `start` for a background
run) drives a remote through the sync stages and gives back a `Run` with its graph and
DataFrames. A plugin subclasses `Remote` (or `HTTPRemote`) and receives a `RunContext`.
The building blocks are re-exported here: the models, `Stage`, `create_pipeline` and
`default_stages`, the `Store` and every error.

Each name is imported on first use, so ``stagekit --help`` and other light entry points
do not pay for aiohttp, pandas and the pipeline.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Eager (it is small): importing the submodule stagekit.diff anywhere first (Run.diff, the
# notebook's diff views) would otherwise leave the module, not the function, here.
from stagekit.diff import diff

if TYPE_CHECKING:
    from stagekit.context import RunContext
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

# Public name -> the module that defines it.
_EXPORTS = {
    "RunContext": "stagekit.context",
    "BodyTooLargeError": "stagekit.errors",
    "ConfigurationError": "stagekit.errors",
    "DigestMismatchError": "stagekit.errors",
    "DownloadError": "stagekit.errors",
    "HTTPStatusError": "stagekit.errors",
    "LimitExceededError": "stagekit.errors",
    "MetadataError": "stagekit.errors",
    "PipelineError": "stagekit.errors",
    "SignatureError": "stagekit.errors",
    "StagekitError": "stagekit.errors",
    "StoreError": "stagekit.errors",
    "UnitFailedError": "stagekit.errors",
    "UnitNotResolvedError": "stagekit.errors",
    "UnsafePathError": "stagekit.errors",
    "UnsafeURLError": "stagekit.errors",
    "Limits": "stagekit.limits",
    "Artifact": "stagekit.models",
    "Content": "stagekit.models",
    "DeclarativeArtifact": "stagekit.models",
    "DeclarativeContent": "stagekit.models",
    "OnError": "stagekit.options",
    "Policy": "stagekit.options",
    "Status": "stagekit.options",
    "EndStage": "stagekit.pipeline",
    "Stage": "stagekit.pipeline",
    "create_pipeline": "stagekit.pipeline",
    "HTTPRemote": "stagekit.remote",
    "Remote": "stagekit.remote",
    "Run": "stagekit.run",
    "explore": "stagekit.run",
    "explore_sync": "stagekit.run",
    "start": "stagekit.run",
    "default_stages": "stagekit.stages",
    "Store": "stagekit.storage",
    # The deprecated round-1 base class (not in __all__), for code that still asks for it.
    "Discovery": "stagekit.discovery",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stagekit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    if name != "Discovery":  # asked for each time, so its deprecation can warn each time
        globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
