"""The SQL schema (SQLAlchemy Core). Alembic migrations create it; this module is what code queries.

Personal data never sits in clear: bodies, identifier values, raw messages, payloads and free text are
vault blobs (LargeBinary); equality lookups go through blind-index hashes (43-char HMAC digests).
Integer ``seq`` columns give a stable insertion order that does not depend on clock resolution.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from adapter.storage.sql.types import BigId, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_HASH = String(43)
_FHIR_ID = String(64)  # checked before writing
_NAME = String()  # caller-supplied codes and names: no length limit, like the memory store
_ACTIVE = text("status IN ('pending', 'delivering')")

# The current version of each resource: the row updates and optimistic locking work on.
resources = Table(
    "resources",
    metadata,
    Column("resource_type", _NAME, primary_key=True),
    Column("resource_id", _FHIR_ID, primary_key=True),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", UtcDateTime, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Index(None, "resource_type", "last_updated", "resource_id"),
)

# Every version, current included; the body is encrypted with aad "<type>/<id>/<version>".
resource_versions = Table(
    "resource_versions",
    metadata,
    Column("resource_type", _NAME, primary_key=True),
    Column("resource_id", _FHIR_ID, primary_key=True),
    Column("version_id", Integer, primary_key=True),
    Column("last_updated", UtcDateTime, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("body", LargeBinary, nullable=False),
)

# Search tokens of current versions. The primary key doubles as the lookup index; on SQLite it is
# the table itself (WITHOUT ROWID, migration 0004): one B-tree less to write per token.
search_tokens = Table(
    "search_tokens",
    metadata,
    Column("resource_type", _NAME, primary_key=True),
    Column("param", _NAME, primary_key=True),
    Column("hash", _HASH, primary_key=True),
    Column("resource_id", _FHIR_ID, primary_key=True),
    Index(None, "resource_type", "resource_id"),
    sqlite_with_rowid=False,
)

# Search tokens of resources a bulk import wrote, not yet in search_tokens: appending here costs no
# index maintenance; the import moves them over in key order (storage/sql/bulk.py, docs/mpi.md).
search_tokens_pending = Table(
    "search_tokens_pending",
    metadata,
    Column("resource_type", _NAME, nullable=False),
    Column("param", _NAME, nullable=False),
    Column("hash", _HASH, nullable=False),
    Column("resource_id", _FHIR_ID, nullable=False),
)

identity_links = Table(
    "identity_links",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("value_hash", _HASH, nullable=False, unique=True),
    Column("system", Text, nullable=False),  # an identifier system (a URI) is not personal data
    Column("value", LargeBinary, nullable=False),
    Column("patient_id", _NAME, nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("flagged", Boolean, nullable=False),
    Column("note", LargeBinary, nullable=True),
)

messages = Table(
    "messages",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("sender", Text, nullable=False),
    Column("control_id", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False, index=True),
    Column("message_type", _NAME, nullable=True),
    Column("status", _NAME, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("ack", LargeBinary, nullable=True),
    Column("patient_id", _NAME, nullable=True, index=True),
    Column("error", LargeBinary, nullable=True),
    Column("resources", JSON, nullable=False),
    UniqueConstraint("sender", "control_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("topic", Text, nullable=False),
    Column("destination", Text, nullable=False),
    Column("ordering_key", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("status", _NAME, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("last_error", LargeBinary, nullable=True),
    # Partial indexes: only undelivered events matter to claim, and they stay few.
    Index("ix_outbox_active", "seq", sqlite_where=_ACTIVE, postgresql_where=_ACTIVE),
    Index(
        "ix_outbox_active_key",
        "destination",
        "ordering_key",
        "seq",
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    ),
    Index(None, "status", "seq"),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("agent", Text, nullable=False),
    Column("action", _NAME, nullable=False),
    Column("operation", Text, nullable=False),
    Column("outcome", _NAME, nullable=False),
    Column("patient_id", _NAME, nullable=True),
    Column("resource", Text, nullable=True),
    Column("request_id", Text, nullable=True),
    Column("private", LargeBinary, nullable=True),  # source ip and detail, encrypted
    Index(None, "patient_id", "seq"),
    Index(None, "agent", "seq"),
)

clients = Table(
    "clients",
    metadata,
    Column("client_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("roles", JSON, nullable=False),
    Column("secret_hash", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("organization", Text, nullable=True),
    Column("active", Boolean, nullable=False),
)

ALL_TABLES = (
    resources,
    resource_versions,
    search_tokens,
    search_tokens_pending,
    identity_links,
    messages,
    outbox,
    audit,
    clients,
)
