"""In-memory Storage: the same constraints, errors, version numbers and ordering as the SQL store."""

from adapter.storage.memory.storage import MemoryStorage, MemoryUnitOfWork

__all__ = ["MemoryStorage", "MemoryUnitOfWork"]
