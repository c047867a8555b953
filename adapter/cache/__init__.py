"""Cache port and its two implementations (replay guard, hot cache, rate limits)."""

from adapter.cache.factory import open_cache
from adapter.cache.in_process import InProcessCache
from adapter.cache.ports import Cache
from adapter.cache.redis_cache import RedisCache

__all__ = ["Cache", "InProcessCache", "RedisCache", "open_cache"]
