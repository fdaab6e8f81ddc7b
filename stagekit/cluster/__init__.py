"""Past one machine: a run's per-unit work on Dask workers (``stagekit[dask]``).

``stagekit.explore(remote, store=..., cluster=client)`` keeps the discovery engine in
the caller's loop and sends `discover` -- parsing saved units, fetching the metadata
they need, declaring their children -- to the workers of ``client`` in batches.
"""

from stagekit.cluster._remote import ClusterRemote, store_spec
from stagekit.cluster._stages import cluster_stages
from stagekit.cluster._worker import StoreSpec

__all__ = ["ClusterRemote", "StoreSpec", "cluster_stages", "store_spec"]
