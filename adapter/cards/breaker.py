"""A small circuit breaker: after `failure_threshold` consecutive failures the platform is not
called for `reset_after_s`; then one trial call decides whether to close again or stay open.

It stops a hospital's scanners from queueing behind a platform that is down, and gives the
platform room to recover. Pure state, no I/O; the clock is injectable for tests.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Literal

BreakerState = Literal["closed", "open", "half-open"]


class CircuitOpenError(Exception):
    """The breaker refuses the call; `retry_after_s` says when a trial call will be allowed."""

    def __init__(self, name: str, retry_after_s: float) -> None:
        super().__init__(f"circuit for {name} is open; retry in {math.ceil(retry_after_s)} s")
        self.retry_after_s = retry_after_s


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or reset_after_s <= 0:
            raise ValueError("failure_threshold >= 1 and reset_after_s > 0")
        self.name = name
        self._threshold = failure_threshold
        self._reset_after_s = reset_after_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self._opened_at >= self._reset_after_s else "open"

    def before_call(self) -> None:
        """Raise CircuitOpenError unless a call may go out now."""
        state = self.state
        if state == "closed":
            return
        if state == "half-open" and not self._trial_in_flight:
            self._trial_in_flight = True  # exactly one caller probes the platform
            return
        raise CircuitOpenError(self.name, self._retry_after())

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._trial_in_flight or self._failures >= self._threshold:
            self._opened_at = self._clock()
        self._trial_in_flight = False

    def abandon_call(self) -> None:
        """A call ended without a verdict (cancelled): let the next caller make the trial."""
        self._trial_in_flight = False

    def _retry_after(self) -> float:
        if self._opened_at is None:
            return 0.0
        return max(self._reset_after_s - (self._clock() - self._opened_at), 1.0)
