"""JSON over HTTP to one card platform: timeouts, bounded retries for idempotent calls only, and the
platform's circuit breaker. Outages become UpstreamUnavailable (503 with Retry-After); what the
platform says in its answer is the client's business."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from adapter.cards.breaker import CircuitBreaker, CircuitOpenError
from adapter.cards.config import CardPlatformConfig
from adapter.cards.errors import CardProblem, card_error
from adapter.errors import DualcodeError

log = logging.getLogger(__name__)


class PlatformHttp:
    def __init__(
        self,
        name: str,
        base_url: str,
        config: CardPlatformConfig,
        *,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self._config = config
        self.breaker = breaker or CircuitBreaker(
            name, failure_threshold=config.breaker_failure_threshold, reset_after_s=config.breaker_reset_s
        )
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            transport=transport,
            headers={"Accept": "application/json"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post_json(self, path: str, body: dict[str, Any], *, idempotent: bool) -> dict[str, Any]:
        """POST `body`, return the answer's JSON object. Verifying a one-time code is not idempotent:
        a retry after a lost answer would be refused as a replay, so such calls go out once."""
        attempts = 1 + (self._config.retries if idempotent else 0)
        problem = "no attempt made"
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._config.retry_backoff_s * 2 ** (attempt - 1))
            try:
                self.breaker.before_call()
            except CircuitOpenError as error:
                raise card_error(
                    CardProblem.UNAVAILABLE,
                    f"the {self.name} platform is failing; calls paused",
                    retry_after_s=error.retry_after_s,
                ) from None
            try:
                return await self._attempt(path, body)
            except DualcodeError:
                raise
            except _Failure as failure:
                problem = str(failure)
                self.breaker.record_failure()
                log.warning(
                    "%s platform call %s failed (attempt %d): %s", self.name, path, attempt + 1, problem
                )
            except BaseException:
                # Cancelled mid-call: it proves nothing about the platform, but must not leave a
                # half-open circuit waiting for a trial that never reports.
                self.breaker.abandon_call()
                raise
        raise card_error(
            CardProblem.UNAVAILABLE,
            f"the {self.name} platform is unavailable: {problem}",
            retry_after_s=self._config.retry_after_s,
        )

    async def _attempt(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._client.post(path, json=body)
        except httpx.TimeoutException:
            raise _Failure(f"no answer within {self._config.timeout_s} s") from None
        except httpx.TransportError as error:
            raise _Failure(f"unreachable ({type(error).__name__})") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise _Failure(f"HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise _Failure("the answer is not JSON") from None
        if response.status_code >= 400 or not isinstance(answer, dict):
            # The platform is up but refuses our request's form: a defect here, not an outage.
            self.breaker.record_success()
            raise _rejected(self.name, f"HTTP {response.status_code}")
        self.breaker.record_success()
        return answer


class _Failure(Exception):
    """One failed attempt that counts against the platform (timeout, outage, garbage)."""


def _rejected(name: str, what: str) -> DualcodeError:
    return card_error(CardProblem.REJECTED, f"the {name} platform refused the request ({what})")
