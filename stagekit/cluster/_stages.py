"""The stages of a run whose per-unit work runs on a Dask cluster."""

from __future__ import annotations

from typing import Any

from stagekit.cluster._remote import ClusterRemote
from stagekit.cluster._stage import ClusterStage
from stagekit.download import DownloadConfig, Downloader
from stagekit.options import OnError, Policy
from stagekit.pipeline import Stage
from stagekit.remote import Remote
from stagekit.stages.default import run_engine
from stagekit.storage import Store

__all__ = ["cluster_stages"]


def cluster_stages(
    remote: Remote,
    client: Any,
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
    """The discovery engine over ``remote`` in this loop, then `ClusterStage`.

    The engine is the one of a run in one process (so dedup, depths, edges and the
    stopping rule are the same); every unit it puts is handled whole on a worker of
    ``client`` (a Dask ``Client``, asynchronous or blocking).
    """
    wrapped = ClusterRemote(remote, client, download_config=download_config)
    wrapped.max_concurrent_content = max_concurrent_content
    engine, _shared = run_engine(wrapped, store, policy, on_error, max_depth=max_depth,
                                 run_id=run_id, max_concurrent_content=max_concurrent_content,
                                 downloader=downloader, download_config=download_config)
    return [engine, ClusterStage(wrapped, run_id, engine=engine)]
