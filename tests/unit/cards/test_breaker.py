from __future__ import annotations

import pytest

from adapter.cards import CircuitBreaker, CircuitOpenError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker("test", failure_threshold=3, reset_after_s=10.0, clock=clock)


def test_opens_after_consecutive_failures_only() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(2):
        b.before_call()
        b.record_failure()
    b.record_success()  # a success in between resets the count
    for _ in range(2):
        b.record_failure()
    assert b.state == "closed"
    b.record_failure()
    assert b.state == "open"
    with pytest.raises(CircuitOpenError) as error:
        b.before_call()
    assert error.value.retry_after_s == 10.0


def test_half_open_lets_one_trial_through() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.now += 4
    with pytest.raises(CircuitOpenError) as error:
        b.before_call()
    assert error.value.retry_after_s == 6.0
    clock.now += 6
    assert b.state == "half-open"
    b.before_call()  # the trial
    with pytest.raises(CircuitOpenError):
        b.before_call()  # nobody else while the trial runs
    b.record_success()
    assert b.state == "closed"
    b.before_call()


def test_a_failed_trial_opens_again_for_a_full_period() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.now += 10
    b.before_call()
    b.record_failure()
    assert b.state == "open"
    clock.now += 9.5
    with pytest.raises(CircuitOpenError) as error:
        b.before_call()
    assert error.value.retry_after_s == 1.0  # never less than a second


def test_an_abandoned_trial_lets_the_next_caller_try() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.now += 10
    b.before_call()
    b.abandon_call()
    b.before_call()


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker("x", failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker("x", reset_after_s=0)
