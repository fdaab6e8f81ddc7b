"""stagekit: explore and sync remote content repositories with an asyncio pipeline of stages."""

from stagekit.errors import StagekitError, UnitFailedError, UnsafePathError
from stagekit.models import Artifact, Content, DeclarativeArtifact, DeclarativeContent

__all__ = [
    "Artifact",
    "Content",
    "DeclarativeArtifact",
    "DeclarativeContent",
    "StagekitError",
    "UnitFailedError",
    "UnsafePathError",
]
