"""The cluster-wide per-host gate keeps a lease for the next request instead of a round
trip to the scheduler for each one, and gives it back when idle or held long."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from stagekit.cluster._limits import HostGate


class _Leases:
    """A stand-in for `distributed.Semaphore` (an acquire waits while every lease is
    out): counts the leases taken and given back."""

    def __init__(self, max_leases: int) -> None:
        self.max_leases = max_leases
        self.taken = self.given = 0
        self._free = threading.Condition()
        self.given_back = threading.Event()

    def acquire(self) -> bool:
        with self._free:
            if not self._free.wait_for(lambda: self.taken - self.given < self.max_leases, 10):
                raise AssertionError("no lease came back")
            self.taken += 1
        return True

    def release(self) -> None:
        with self._free:
            self.given += 1
            self._free.notify()
        self.given_back.set()


def _gate(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> tuple[HostGate, _Leases]:
    leases = _Leases(2)
    gate = HostGate("t", 2, scheduler=None, loop=None, **kwargs)
    monkeypatch.setattr(gate, "_semaphore", lambda host: leases)
    return gate, leases


async def _given_back(leases: _Leases, count: int) -> None:
    while leases.given < count:
        await asyncio.to_thread(leases.given_back.wait, 5)
        leases.given_back.clear()


async def test_requests_one_after_another_take_one_lease(monkeypatch) -> None:
    gate, leases = _gate(monkeypatch, linger=0.2, hold=30)
    async with asyncio.timeout(10):
        for _ in range(50):
            await gate.acquire("h:1")
            gate.release_soon("h:1")
        assert leases.taken == 1 and leases.given == 0
        await _given_back(leases, 1)  # unused for `linger`: back to the scheduler
        await gate.acquire("h:1")
        assert leases.taken == 2
        gate.release_soon("h:1")
        gate.close()
        await _given_back(leases, 2)
    assert leases.taken == leases.given == 2


async def test_a_lease_held_past_hold_goes_back_at_once(monkeypatch) -> None:
    gate, leases = _gate(monkeypatch, linger=30, hold=0)
    async with asyncio.timeout(10):
        for _ in range(3):
            await gate.acquire("h:1")
            gate.release_soon("h:1")
        await _given_back(leases, 3)
    assert leases.taken == leases.given == 3
    gate.close()


async def test_no_more_requests_in_use_than_leases(monkeypatch) -> None:
    gate, leases = _gate(monkeypatch, linger=0.05, hold=0.1)
    in_use = most = 0

    async def request() -> None:
        nonlocal in_use, most
        await gate.acquire("h:1")
        in_use += 1
        most = max(most, in_use)
        await asyncio.sleep(0.001)
        in_use -= 1
        gate.release_soon("h:1")

    async with asyncio.timeout(20):
        await asyncio.gather(*(request() for _ in range(200)))
        gate.close()
        await _given_back(leases, leases.taken)
    assert most == 2
    assert leases.taken == leases.given < 200
