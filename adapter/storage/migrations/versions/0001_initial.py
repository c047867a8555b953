"""Initial schema: resources and versions, search tokens, identity links, messages, outbox, audit,
clients.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: rowid alias, auto-incrementing
_TS = sa.DateTime(timezone=True)
_ACTIVE = sa.text("status IN ('pending', 'delivering')")


def upgrade() -> None:
    op.create_table(
        "resources",
        sa.Column("resource_type", sa.String(), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", _TS, nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("resource_type", "resource_id", name="pk_resources"),
    )
    op.create_index(
        "ix_resources_resource_type_last_updated_resource_id",
        "resources",
        ["resource_type", "last_updated", "resource_id"],
    )
    op.create_table(
        "resource_versions",
        sa.Column("resource_type", sa.String(), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", _TS, nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("resource_type", "resource_id", "version_id", name="pk_resource_versions"),
    )
    op.create_table(
        "search_tokens",
        sa.Column("resource_type", sa.String(), nullable=False),
        sa.Column("param", sa.String(), nullable=False),
        sa.Column("hash", sa.String(43), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("resource_type", "param", "hash", "resource_id", name="pk_search_tokens"),
    )
    op.create_index(
        "ix_search_tokens_resource_type_resource_id", "search_tokens", ["resource_type", "resource_id"]
    )
    op.create_table(
        "identity_links",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("value_hash", sa.String(43), nullable=False),
        sa.Column("system", sa.Text(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("note", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_identity_links"),
        sa.UniqueConstraint("value_hash", name="uq_identity_links_value_hash"),
    )
    op.create_index("ix_identity_links_patient_id", "identity_links", ["patient_id"])
    op.create_table(
        "messages",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("control_id", sa.Text(), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("message_type", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("ack", sa.LargeBinary(), nullable=True),
        sa.Column("patient_id", sa.String(), nullable=True),
        sa.Column("error", sa.LargeBinary(), nullable=True),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_messages"),
        sa.UniqueConstraint("id", name="uq_messages_id"),
        sa.UniqueConstraint("sender", "control_id", name="uq_messages_sender_control_id"),
    )
    op.create_index("ix_messages_received_at", "messages", ["received_at"])
    op.create_index("ix_messages_patient_id", "messages", ["patient_id"])
    op.create_table(
        "outbox",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("ordering_key", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=True),
        sa.Column("last_error", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox"),
        sa.UniqueConstraint("id", name="uq_outbox_id"),
    )
    op.create_index("ix_outbox_active", "outbox", ["seq"], sqlite_where=_ACTIVE, postgresql_where=_ACTIVE)
    op.create_index(
        "ix_outbox_active_key",
        "outbox",
        ["destination", "ordering_key", "seq"],
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    )
    op.create_index("ix_outbox_status_seq", "outbox", ["status", "seq"])
    op.create_table(
        "audit",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.Column("agent", sa.Text(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("patient_id", sa.String(), nullable=True),
        sa.Column("resource", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("private", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_audit"),
        sa.UniqueConstraint("id", name="uq_audit_id"),
    )
    op.create_index("ix_audit_patient_id_seq", "audit", ["patient_id", "seq"])
    op.create_index("ix_audit_agent_seq", "audit", ["agent", "seq"])
    op.create_table(
        "clients",
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("organization", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name="pk_clients"),
    )


def downgrade() -> None:
    for table in (
        "clients",
        "audit",
        "outbox",
        "messages",
        "identity_links",
        "search_tokens",
        "resource_versions",
        "resources",
    ):
        op.drop_table(table)
