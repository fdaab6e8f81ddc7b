"""The standard list of stages behind a first stage."""

from __future__ import annotations

from stagekit.download import DownloadConfig, Downloader
from stagekit.pipeline import EndStage, Stage
from stagekit.stages.artifacts import ArtifactDownloader, ArtifactSaver, QueryExistingArtifacts
from stagekit.stages.content import ContentSaver, QueryExistingContents
from stagekit.stages.resolve import ResolveContentFutures
from stagekit.storage import Store

__all__ = ["default_stages"]


def default_stages(
    first_stage: Stage,
    store: Store,
    policy: str = "immediate",
    on_error: str = "continue",
    *,
    run_id: int | None = None,
    max_concurrent_content: int = 200,
    downloader: Downloader | None = None,
    download_config: DownloadConfig | None = None,
) -> list[Stage]:
    """``first_stage`` followed by the sync stages in Pulp's order, ending in `EndStage`.

    ``policy="metadata-only"`` records deferred artifacts without fetching them;
    ``on_error="abort"`` stops at the first failed unit instead of reporting it.
    """
    return [
        first_stage,
        QueryExistingArtifacts(store),
        ArtifactDownloader(
            store,
            max_concurrent_content=max_concurrent_content,
            policy=policy,
            on_error=on_error,
            downloader=downloader,
            config=download_config,
        ),
        ArtifactSaver(store),
        QueryExistingContents(store),
        ContentSaver(store, run_id),
        ResolveContentFutures(),
        EndStage(),
    ]
