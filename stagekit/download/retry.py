"""When to try again: exponential backoff with full jitter, honouring ``Retry-After``."""

from __future__ import annotations

import asyncio
import email.utils
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = ["RETRY_STATUSES", "RetryPolicy", "is_retryable_status", "parse_retry_after"]

# Only "slow down" and server faults are worth another try; every other 4xx fails at once.
RETRY_STATUSES = frozenset({429})
_SECONDS = re.compile(r"^\d+(\.\d+)?$")


def is_retryable_status(status: int) -> bool:
    """Whether an HTTP status is worth another try (429 and every 5xx)."""
    return status in RETRY_STATUSES or 500 <= status <= 599


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date), or None.

    A date in the past gives 0; an unparseable value gives None (use the backoff).
    """
    if not value:
        return None
    value = value.strip()
    if _SECONDS.match(value):  # delta-seconds; fractions are not standard but harmless
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass
class RetryPolicy:
    """How many tries and how long to wait between them.

    ``delay(attempt)`` for the ``attempt``-th retry (0 for the first) is drawn uniformly
    from ``[0, min(cap, base * 2**attempt)]`` ("full jitter"); a ``Retry-After`` header
    replaces it, capped at ``cap``. ``sleep`` and ``rng`` are injectable for tests.
    """

    tries: int = 4
    base: float = 0.5
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random, repr=False)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)

    def __post_init__(self) -> None:
        if self.tries < 1:
            raise ValueError(f"tries must be at least 1, got {self.tries}")
        if self.base < 0 or self.cap < 0:
            raise ValueError(f"backoff base and cap must be >= 0, got {self.base}, {self.cap}")

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        server_delay = parse_retry_after(retry_after)
        if server_delay is not None:
            return min(self.cap, server_delay)
        # 2.0**attempt overflows a float past 1023 tries; 2**64 times any base is past any cap.
        return self.rng.uniform(0.0, min(self.cap, self.base * 2.0 ** min(attempt, 64)))

    async def wait(self, attempt: int, retry_after: str | None = None) -> float:
        """Sleep for `delay` and return how long that was."""
        seconds = self.delay(attempt, retry_after)
        await self.sleep(seconds)
        return seconds
