"""When to try a failed delivery again: exponential backoff with full jitter, then dead letter."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 12
    base_s: float = 1.0
    max_s: float = 300.0

    def retry_at(self, attempts: int, now: datetime, rng: random.Random | None = None) -> datetime | None:
        """After ``attempts`` failed attempts: when to try again, or None = dead letter.

        The delay is drawn from [half, full] of base * 2^(attempts-1), capped: jitter spreads the
        retries of many patients after an outage so the HIS is not hit by all of them at once.
        """
        if attempts >= self.max_attempts:
            return None
        ceiling = min(self.max_s, self.base_s * 2 ** max(0, attempts - 1))
        draw = (rng or random).uniform(0.5, 1.0)
        return now + timedelta(seconds=ceiling * draw)
