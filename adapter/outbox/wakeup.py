"""Wake dispatchers as soon as outbox events are committed, instead of at their next poll.

The storage calls ``OutboxWakeup.committed`` after every unit of work that added outbox events has
committed. The dispatcher of this process (if any) is woken directly; with Redis configured, a
one-byte message (``b"1"``: no personal data, no event ids) is also published on a channel every
dispatcher process subscribes to, and each starts a claim round at once.

Redis is never a source of truth: the database is. A lost wake-up only means the dispatcher's poll
(``outbox_poll_interval_s``) finds the event. When Redis is down, writes and deliveries go on: the
failure is logged once, publishing pauses briefly, and the subscriber retries with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("dualcode.outbox")

CHANNEL = "dualcode:outbox:wake"
MESSAGE = b"1"
_PUBLISH_PAUSE_S = 5.0  # after a failed publish, commits skip Redis this long (the poll covers them)
_RETRY_FIRST_S = 0.5
_RETRY_MAX_S = 30.0


class OutboxListeners(Protocol):
    def add_outbox_listener(self, listener: Callable[[], None]) -> None: ...


class OutboxWakeup:
    """``wake``: what to call in this process on a commit or a message (``Dispatcher.wake``), or
    None when this process runs no dispatcher (it then only publishes)."""

    def __init__(
        self,
        *,
        wake: Callable[[], None] | None = None,
        redis_url: str | None = None,
        channel: str = CHANNEL,
        subscribe: bool | None = None,
        timeout_s: float = 2.0,
    ) -> None:
        self._wake = wake
        self._channel = channel
        self._subscribe = (wake is not None) if subscribe is None else subscribe
        self._client: aioredis.Redis | None = None
        if redis_url is not None:
            self._client = aioredis.Redis.from_url(
                redis_url,
                socket_timeout=timeout_s,
                socket_connect_timeout=timeout_s,
                health_check_interval=30,
            )
        self._pending = False
        self._publisher: asyncio.Task[None] | None = None
        self._publish_paused_until = 0.0
        self._publish_down = False
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._closed = False
        self.received = 0  # wake-up messages heard (tests, diagnostics)

    def attach(self, storage: object) -> None:
        """Listen to ``storage``'s commits (storages without the hook: nothing, the poll still works)."""
        if hasattr(storage, "add_outbox_listener"):
            storage.add_outbox_listener(self.committed)

    async def start(self) -> None:
        if self._client is not None and self._subscribe and self._wake is not None:
            self._listener = asyncio.create_task(self._listen(), name="outbox-wakeup")

    async def wait_subscribed(self, timeout_s: float) -> None:
        """Until the subscription is in place (tests: a message sent before it is not heard)."""
        await asyncio.wait_for(self._subscribed.wait(), timeout_s)

    async def stop(self) -> None:
        self._closed = True
        for task in (self._listener, self._publisher):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()

    def committed(self) -> None:
        """Outbox events were committed (called by the storage, synchronously, after the commit)."""
        if self._wake is not None:
            self._wake()
        if self._client is None or self._closed or time.monotonic() < self._publish_paused_until:
            return
        self._pending = True  # commits arriving while a publish is in flight share the next one
        if self._publisher is None or self._publisher.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a synchronous tool): the poll finds the events
                return
            self._publisher = loop.create_task(self._publish(), name="outbox-wakeup-publish")

    async def _publish(self) -> None:
        assert self._client is not None
        while self._pending and not self._closed:
            self._pending = False
            try:
                await self._client.publish(self._channel, MESSAGE)
            except (RedisError, OSError) as exc:
                self._pending = False
                self._publish_paused_until = time.monotonic() + _PUBLISH_PAUSE_S
                if not self._publish_down:
                    self._publish_down = True
                    log.warning(
                        "outbox wake-up: cannot publish to Redis (%s); dispatchers poll", type(exc).__name__
                    )
                return
            if self._publish_down:
                self._publish_down = False
                log.info("outbox wake-up: publishing to Redis again")

    async def _listen(self) -> None:
        assert self._client is not None
        delay, down = _RETRY_FIRST_S, False
        while not self._closed:
            pubsub: Any = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                if down:
                    log.info("outbox wake-up: subscribed to Redis again")
                down, delay = False, _RETRY_FIRST_S
                self._subscribed.set()
                self._wake_here()  # events committed while we were not listening
                while not self._closed:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self.received += 1
                        self._wake_here()
            except (RedisError, OSError) as exc:
                self._subscribed.clear()
                if not down:
                    down = True
                    log.warning(
                        "outbox wake-up: Redis subscription lost (%s); dispatchers poll, retrying",
                        type(exc).__name__,
                    )
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            if not self._closed:
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)

    def _wake_here(self) -> None:
        if self._wake is not None:
            self._wake()
