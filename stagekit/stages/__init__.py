"""The stages of a sync pipeline, in Pulp's order."""

from stagekit.pipeline import EndStage
from stagekit.stages.resolve import ResolveContentFutures

__all__ = ["EndStage", "ResolveContentFutures"]
