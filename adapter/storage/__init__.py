"""Storage: ports (Protocols), the in-memory and SQL implementations, migrations, keys at rest."""

from adapter.storage.factory import MEMORY_URL, open_storage
from adapter.storage.keys import load_token_signing_key, load_vault
from adapter.storage.memory import MemoryStorage
from adapter.storage.migrate import downgrade, migrate, migrate_sync
from adapter.storage.ports import (
    AuditLog,
    ClientStore,
    FhirRepository,
    IdentityStore,
    MessageStore,
    OutboxStore,
    Storage,
    UnitOfWork,
)
from adapter.storage.records import (
    AuditRecord,
    ClientRecord,
    IdentityLink,
    NewLink,
    NewResource,
    OutboxEvent,
    SearchToken,
    StoredMessage,
    StoredResource,
)
from adapter.storage.sql import SqlStorage
from adapter.storage.vault import KeyMaterialError, Vault, VaultError

__all__ = [
    "MEMORY_URL",
    "AuditLog",
    "AuditRecord",
    "ClientRecord",
    "ClientStore",
    "FhirRepository",
    "IdentityLink",
    "IdentityStore",
    "KeyMaterialError",
    "MemoryStorage",
    "MessageStore",
    "NewLink",
    "NewResource",
    "OutboxEvent",
    "OutboxStore",
    "SearchToken",
    "SqlStorage",
    "Storage",
    "StoredMessage",
    "StoredResource",
    "UnitOfWork",
    "Vault",
    "VaultError",
    "downgrade",
    "load_token_signing_key",
    "load_vault",
    "migrate",
    "migrate_sync",
    "open_storage",
]
