from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from adapter.outbox.backoff import RetryPolicy

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def test_delays_double_with_jitter_up_to_the_cap_then_dead() -> None:
    policy = RetryPolicy(max_attempts=6, base_s=1.0, max_s=5.0)
    rng = random.Random(7)
    delays = [(policy.retry_at(n, NOW, rng) or NOW) - NOW for n in range(1, 6)]
    ceilings = [1, 2, 4, 5, 5]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert timedelta(seconds=ceiling / 2) <= delay <= timedelta(seconds=ceiling)
    assert policy.retry_at(6, NOW, rng) is None  # the limit: dead letter
