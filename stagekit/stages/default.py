"""The standard pipeline of a run: the discovery engine, then the sync stages."""

from __future__ import annotations

from stagekit.download import DownloadConfig, Downloader
from stagekit.download.shared import SharedDownloader
from stagekit.engine import DiscoveryEngine
from stagekit.options import OnError, Policy, check_concurrency
from stagekit.pipeline import EndStage, Stage
from stagekit.remote import Remote
from stagekit.stages.artifacts import ArtifactDownloader, ArtifactSaver, QueryExistingArtifacts
from stagekit.stages.content import ContentSaver, QueryExistingContents
from stagekit.stages.resolve import ResolveContentFutures
from stagekit.storage import Store

__all__ = ["default_stages", "run_engine"]


def default_stages(
    remote: Remote,
    store: Store,
    policy: Policy = "immediate",
    on_error: OnError | None = None,
    *,
    max_depth: int | None = None,
    run_id: int | None = None,
    max_concurrent_content: int = 200,
    downloader: Downloader | None = None,
    download_config: DownloadConfig | None = None,
) -> list[Stage]:
    """The discovery engine over ``remote``, then the sync stages in Pulp's order.

    ``policy="metadata-only"`` records deferred artifacts without fetching them;
    ``on_error`` and ``max_depth`` default to the remote's own settings. Every stage
    shares one downloader (``downloader``, or one opened for the pipeline that writes
    into the store's temporary directory), so `create_pipeline(default_stages(...))`
    wires a remote exactly as `stagekit.explore` does.
    """
    engine, shared = run_engine(remote, store, policy, on_error, max_depth=max_depth,
                                run_id=run_id, max_concurrent_content=max_concurrent_content,
                                downloader=downloader, download_config=download_config)
    stored_by_run: set[str] = set()  # tells "shared within this run" from "existing"
    engine.stored_by_run = stored_by_run  # leaves it records in bulk are looked for alike
    return [
        engine,
        QueryExistingArtifacts(store, stored_by_run=stored_by_run, policy=engine.policy),
        ArtifactDownloader(
            store,
            max_concurrent_content=max_concurrent_content,
            policy=engine.policy,
            on_error=engine.on_error,
            downloader=shared,
        ),
        ArtifactSaver(store, stored_by_run=stored_by_run),
        QueryExistingContents(store),
        ContentSaver(store, run_id),
        ResolveContentFutures(),
        EndStage(),
    ]


def run_engine(
    remote: Remote,
    store: Store,
    policy: Policy = "immediate",
    on_error: OnError | None = None,
    *,
    max_depth: int | None = None,
    run_id: int | None = None,
    max_concurrent_content: int = 200,
    downloader: Downloader | None = None,
    download_config: DownloadConfig | None = None,
) -> tuple[DiscoveryEngine, SharedDownloader]:
    """The discovery engine of a run, and the downloader its stages share.

    The first stage of `default_stages` and of a cluster run (`stagekit.cluster`): the
    settings are checked, and the downloader is ``downloader`` or one opened for the
    pipeline that writes into the store's temporary directory.
    """
    check_concurrency("max_concurrent_content", max_concurrent_content)
    shared = SharedDownloader(download_config, tmp_root=store.tmp_dir, downloader=downloader)
    engine = DiscoveryEngine(remote, store=store, downloader=shared, policy=policy,
                             on_error=on_error, max_depth=max_depth, run_id=run_id)
    return engine, shared
