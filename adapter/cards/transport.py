"""JSON over HTTP to one card platform: timeouts, bounded retries for idempotent calls only, and the
platform's circuit breaker. Outages become UpstreamUnavailable (503 with Retry-After); what the
platform says in its answer is the client's business.

The calls go out through aiohttp's client: with 16 calls in flight httpx's connection pool cost
~3 ms of CPU per call here, aiohttp's ~0.3 ms, and a sampling point or a cache-less scan makes one
call per person. A test may hand in an httpx transport (``httpx.MockTransport``) to script a
platform; the retry, breaker and error rules above the sender are the same either way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

import aiohttp
import httpx

from adapter.cards.breaker import CircuitBreaker, CircuitOpenError
from adapter.cards.config import CardPlatformConfig
from adapter.cards.errors import CardProblem, card_error
from adapter.errors import DualcodeError
from adapter.json_codec import dump_json, load_json

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
        self._sender: _Sender = (
            _AiohttpSender(base_url, config)
            if transport is None
            else _HttpxSender(base_url, config, transport)
        )

    async def aclose(self) -> None:
        await self._sender.aclose()

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
        status, raw = await self._sender.post(path, dump_json(body))
        if status >= 500 or status == 429:
            raise _Failure(f"HTTP {status}")
        try:
            answer = load_json(raw)
        except ValueError:  # not JSON, or not UTF-8
            raise _Failure("the answer is not JSON") from None
        if status >= 400 or not isinstance(answer, dict):
            # The platform is up but refuses our request's form: a defect here, not an outage.
            self.breaker.record_success()
            raise _rejected(self.name, f"HTTP {status}")
        self.breaker.record_success()
        return answer


class _Failure(Exception):
    """One failed attempt that counts against the platform (timeout, outage, garbage)."""


class _Sender(Protocol):
    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST a JSON body; the answer's status and bytes. A timeout or an unreachable platform
        raises _Failure."""
        ...

    async def aclose(self) -> None: ...


_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


class _AiohttpSender:
    """Keep-alive connections to one platform, opened on first use (inside the service's loop)."""

    def __init__(self, base_url: str, config: CardPlatformConfig) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout_s = config.timeout_s
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_s, connect=config.connect_timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=_HEADERS)
        url = f"{self._base_url}/{path.lstrip('/')}"
        try:
            async with self._session.post(url, data=body) as response:
                return response.status, await response.read()
        except TimeoutError:
            raise _Failure(f"no answer within {self._timeout_s} s") from None
        except aiohttp.ClientError as error:
            raise _Failure(f"unreachable ({type(error).__name__})") from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class _HttpxSender:
    """Through an httpx transport a test hands in (a scripted platform)."""

    def __init__(
        self, base_url: str, config: CardPlatformConfig, transport: httpx.AsyncBaseTransport
    ) -> None:
        self._timeout_s = config.timeout_s
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            transport=transport,
            headers=_HEADERS,
        )

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        try:
            response = await self._client.post(path, content=body)
        except httpx.TimeoutException:
            raise _Failure(f"no answer within {self._timeout_s} s") from None
        except httpx.TransportError as error:
            raise _Failure(f"unreachable ({type(error).__name__})") from None
        return response.status_code, response.content

    async def aclose(self) -> None:
        await self._client.aclose()


def _rejected(name: str, what: str) -> DualcodeError:
    return card_error(CardProblem.REJECTED, f"the {name} platform refused the request ({what})")
