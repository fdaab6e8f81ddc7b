"""``--scheduler ADDRESS``: run the per-unit work on the workers of a Dask cluster."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from stagekit.errors import ConfigurationError
from stagekit.extras import require_extra

__all__ = ["CONNECT_TIMEOUT", "connected"]

#: Seconds to wait for the scheduler before giving up with an error naming it.
CONNECT_TIMEOUT = 10.0


@contextlib.contextmanager
def connected(address: str | None) -> Iterator[Any]:
    """A blocking Dask client of the scheduler at ``address`` (None: no cluster).

    Says where the cluster's dashboard is; the client is closed on exit.
    """
    if not address:
        yield None
        return
    require_extra("dask")
    from distributed import Client

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise ConfigurationError(
            f"--scheduler {address}: no Dask scheduler answered within "
            f"{CONNECT_TIMEOUT:g} s ({type(exc).__name__})") from None
    try:
        workers = len(client.scheduler_info().get("workers", {}))
        print(f"Dask cluster at {address}: {workers} workers, dashboard "
              f"{client.dashboard_link}", file=sys.stderr)
        yield client
    finally:
        client.close()
