"""The stages of a sync pipeline, in Pulp's order, and `default_stages` to build them."""

from stagekit.pipeline import EndStage
from stagekit.stages.artifacts import ArtifactDownloader, ArtifactSaver, QueryExistingArtifacts
from stagekit.stages.content import ContentSaver, QueryExistingContents
from stagekit.stages.default import default_stages
from stagekit.stages.resolve import ResolveContentFutures

__all__ = [
    "ArtifactDownloader",
    "ArtifactSaver",
    "ContentSaver",
    "EndStage",
    "QueryExistingArtifacts",
    "QueryExistingContents",
    "ResolveContentFutures",
    "default_stages",
]
