"""Choose the cache from Settings: Redis when a URL is configured, else the in-process cache."""

from __future__ import annotations

from adapter.cache.in_process import InProcessCache
from adapter.cache.ports import Cache
from adapter.cache.redis_cache import RedisCache
from adapter.settings import Settings


def open_cache(settings: Settings) -> Cache:
    """Build the cache; nothing connects yet (the lifespan calls ``ping()`` to check readiness)."""
    if settings.redis_url is not None:
        return RedisCache(settings.redis_url.get_secret_value())
    return InProcessCache()
