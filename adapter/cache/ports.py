"""Cache port: a short-lived key/value store shared by the service processes.

Two implementations behave alike: ``InProcessCache`` (one process, the embedded default) and
``RedisCache``. Values are bytes; callers serialise. Never put clear personal data in a key.
"""

from __future__ import annotations

from typing import Protocol


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, *, ttl_s: float) -> None: ...

    async def set_if_absent(self, key: str, value: bytes, *, ttl_s: float) -> bool:
        """Store only when the key is absent (replay guard). True when stored."""
        ...

    async def delete(self, key: str) -> None: ...

    async def incr(self, key: str, *, ttl_s: float) -> int:
        """Add one to a counter; the first increment starts its expiry window (rate limits)."""
        ...

    async def ping(self) -> None:
        """Raise ServiceUnavailable when the cache does not answer."""
        ...

    async def close(self) -> None: ...
