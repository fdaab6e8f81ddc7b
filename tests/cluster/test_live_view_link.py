"""The live view of a run on a cluster links the Dask dashboard."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import stagekit
from stagekit.testing.noop import NoopTree


def test_the_live_view_links_the_dask_dashboard() -> None:
    pytest.importorskip("ipywidgets")
    run = stagekit.Run(NoopTree(3))
    run.cluster = SimpleNamespace(dashboard_link="http://127.0.0.1:8787/status")
    widget = run.widget()
    widget.update()
    assert '<a href="http://127.0.0.1:8787/status" target="_blank">Dask dashboard</a>' in (
        widget.header.value)
    alone = stagekit.Run(NoopTree(3)).widget()
    alone.update()
    assert "dashboard" not in alone.header.value
