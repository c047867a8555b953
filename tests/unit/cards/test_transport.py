"""PlatformHttp against a scripted platform (httpx.MockTransport): retries only for idempotent
calls, outages become UpstreamUnavailable with Retry-After, the breaker stops calls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from adapter.cards import CardPlatformConfig, CardProblem, card_problem_of
from adapter.cards.transport import PlatformHttp
from adapter.errors import DualcodeError, PlatformRejected, UpstreamUnavailable

CONFIG = CardPlatformConfig.for_sandbox(
    "http://platform.test", retries=2, retry_backoff_s=0.0, breaker_failure_threshold=4, retry_after_s=7
)
Handler = Callable[[httpx.Request], httpx.Response]


class Script:
    """Answers in order (the last one repeats) and counts the calls."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
async def make() -> AsyncIterator[Callable[[Script], PlatformHttp]]:
    made: list[PlatformHttp] = []

    def build(script: Script) -> PlatformHttp:
        http = PlatformHttp(
            "essc", "http://platform.test/essc", CONFIG, transport=httpx.MockTransport(script)
        )
        made.append(http)
        return http

    yield build
    for http in made:
        await http.aclose()


OK = httpx.Response(200, json={"code": "0"})
DOWN = httpx.Response(503, text="down")


async def test_idempotent_calls_are_retried_until_an_answer(make: Callable[[Script], PlatformHttp]) -> None:
    script = Script(DOWN, httpx.ConnectError("refused"), OK)
    assert await make(script).post_json("/q", {}, idempotent=True) == {"code": "0"}
    assert script.calls == 3


async def test_code_verifications_go_out_once(make: Callable[[Script], PlatformHttp]) -> None:
    script = Script(httpx.ReadTimeout("slow"), OK)
    with pytest.raises(UpstreamUnavailable) as error:
        await make(script).post_json("/verify", {}, idempotent=False)
    assert script.calls == 1
    assert error.value.headers == {"Retry-After": "7"} and "no answer within" in error.value.message
    assert card_problem_of(error.value) is CardProblem.UNAVAILABLE


async def test_retries_are_bounded(make: Callable[[Script], PlatformHttp]) -> None:
    script = Script(DOWN)
    with pytest.raises(UpstreamUnavailable):
        await make(script).post_json("/q", {}, idempotent=True)
    assert script.calls == 3


@pytest.mark.parametrize(
    "answer", [httpx.Response(200, text="<html>"), httpx.Response(200, json=["list"]), httpx.Response(429)]
)
async def test_garbage_and_throttling_count_as_outage_or_refusal(
    make: Callable[[Script], PlatformHttp], answer: httpx.Response
) -> None:
    with pytest.raises(DualcodeError) as error:
        await make(Script(answer)).post_json("/verify", {}, idempotent=False)
    assert card_problem_of(error.value) in (CardProblem.UNAVAILABLE, CardProblem.REJECTED)


async def test_a_client_error_is_a_refusal_not_an_outage(make: Callable[[Script], PlatformHttp]) -> None:
    script = Script(httpx.Response(400, json={"error": "bad"}))
    http = make(script)
    for _ in range(5):
        with pytest.raises(PlatformRejected):
            await http.post_json("/verify", {}, idempotent=True)
    assert script.calls == 5 and http.breaker.state == "closed"


async def test_the_breaker_stops_calls_to_a_failing_platform(make: Callable[[Script], PlatformHttp]) -> None:
    script = Script(DOWN)
    http = make(script)
    for _ in range(4):
        with pytest.raises(UpstreamUnavailable):
            await http.post_json("/verify", {}, idempotent=False)
    assert http.breaker.state == "open"
    with pytest.raises(UpstreamUnavailable) as error:
        await http.post_json("/verify", {}, idempotent=False)
    assert script.calls == 4 and "paused" in error.value.message
    assert int(error.value.headers["Retry-After"]) == 30
