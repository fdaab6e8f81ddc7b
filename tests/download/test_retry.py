"""RetryPolicy: full-jitter backoff, Retry-After parsing and capping."""

from __future__ import annotations

import email.utils
import random
from datetime import UTC, datetime, timedelta

import pytest

from stagekit.download import RetryPolicy, parse_retry_after
from stagekit.download.retry import is_retryable_status


def test_delay_is_full_jitter_within_exponential_bound() -> None:
    policy = RetryPolicy(tries=10, base=0.5, cap=3.0, rng=random.Random(1))
    for attempt, bound in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 3.0), (8, 3.0)]:
        samples = [policy.delay(attempt) for _ in range(300)]
        assert all(0.0 <= s <= bound for s in samples)
        # Full jitter spreads over the whole range, not just near the bound.
        assert min(samples) < bound * 0.1 and max(samples) > bound * 0.9


def test_delay_is_reproducible_with_a_seeded_rng() -> None:
    a = RetryPolicy(rng=random.Random(7))
    b = RetryPolicy(rng=random.Random(7))
    assert [a.delay(i) for i in range(4)] == [b.delay(i) for i in range(4)]


def test_retry_after_seconds_replaces_backoff_and_is_capped() -> None:
    policy = RetryPolicy(base=100.0, cap=30.0)
    assert policy.delay(0, "2") == 2.0
    assert policy.delay(0, "0.25") == 0.25
    assert policy.delay(0, "3600") == 30.0


def test_retry_after_http_date() -> None:
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = email.utils.format_datetime(now + timedelta(seconds=7), usegmt=True)
    earlier = email.utils.format_datetime(now - timedelta(seconds=7), usegmt=True)
    assert parse_retry_after(later, now=now) == 7.0
    assert parse_retry_after(earlier, now=now) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-3", "Mon, 99 Foo 2024"])
def test_unparseable_retry_after_falls_back_to_backoff(value: str | None) -> None:
    assert parse_retry_after(value) is None
    policy = RetryPolicy(base=0.5, cap=30.0, rng=random.Random(3))
    assert 0.0 <= policy.delay(0, value) <= 0.5


def test_only_429_and_5xx_are_retryable() -> None:
    assert is_retryable_status(429) and is_retryable_status(500) and is_retryable_status(503)
    assert not any(is_retryable_status(s) for s in (400, 401, 403, 404, 410, 418))


def test_tries_must_be_positive() -> None:
    with pytest.raises(ValueError, match="tries"):
        RetryPolicy(tries=0)
