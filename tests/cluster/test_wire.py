"""What crosses between coordinator and workers comes back as the unit that was sent."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from stagekit.cluster._wire import dc_in, dc_out, dumps, loads
from stagekit.models import Artifact, DeclarativeArtifact, DeclarativeContent
from stagekit.testing.noop import NoopNode

SHA = "a" * 64


def _slots(cls: type) -> list[str]:
    return [name for name in cls.__slots__ if name != "__weakref__"]


def _unit() -> DeclarativeContent:
    stored = DeclarativeArtifact(["http://127.0.0.1:1/a", "http://127.0.0.1:2/a"], "a/x.pom",
                                 digests={"sha1": "b" * 40}, size=3, extra_data={"k": 1})
    stored.status, stored.tries = "downloaded", 2
    stored.artifact = Artifact(SHA, 3, {"sha1": "b" * 40}, Path("/store") / SHA)
    deferred = DeclarativeArtifact("http://127.0.0.1:1/b", "b.jar", deferred=True)
    dc = DeclarativeContent(NoopNode(42), [stored, deferred], extra_data={"scope": "test"},
                            relation="dependency")
    dc.depth, dc.status = 3, "downloaded"
    return dc


def test_a_unit_comes_back_with_every_attribute_of_the_one_sent() -> None:
    sent = _unit()
    back = dc_in(loads(dumps(dc_out(sent))))
    # Every slot is set (a slot added to the models later must be carried or reset).
    for name in _slots(DeclarativeContent):
        if name != "d_artifacts":  # compared one by one below
            assert getattr(back, name) == getattr(sent, name), name
    assert back.identity == ("noop.node", ("42",)) and back.key == "noop.node:42"
    assert back.content == NoopNode(42) and back.parent is None and back.future is None
    for got, want in zip(back.d_artifacts, sent.d_artifacts, strict=True):
        for name in _slots(DeclarativeArtifact):
            assert getattr(got, name) == getattr(want, name), name
    assert back.d_artifacts[0].urls == ("http://127.0.0.1:1/a", "http://127.0.0.1:2/a")
    assert back.artifacts == sent.artifacts


async def test_a_unit_from_the_wire_gets_a_future_and_resolves_like_a_declared_one() -> None:
    back = dc_in(loads(dumps(dc_out(_unit()))))
    future = back.get_or_create_future()
    assert not back.does_batch
    back.resolve()
    assert await asyncio.wait_for(future, 5) == NoopNode(42)
    other: Any = dc_in(dc_out(DeclarativeContent(NoopNode(7))))
    assert other.d_artifacts == [] and other.extra_data == {} and other.relation is None
