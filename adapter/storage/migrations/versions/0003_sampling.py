"""Nucleic-acid sampling: pooled tubes and the people bound to them.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: rowid alias, auto-incrementing
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sampling_tubes",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("barcode", sa.Text(), nullable=False),
        sa.Column("round", sa.Text(), nullable=False),
        sa.Column("point", sa.Text(), nullable=False),
        sa.Column("pool_size", sa.Integer(), nullable=False),
        sa.Column("filled", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("opened_at", _TS, nullable=False),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("result", sa.String(), nullable=True),
        sa.Column("resulted_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_sampling_tubes"),
        sa.UniqueConstraint("barcode", name="uq_sampling_tubes_barcode"),
    )
    op.create_index("ix_sampling_tubes_status_seq", "sampling_tubes", ["status", "seq"])
    op.create_index("ix_sampling_tubes_round_seq", "sampling_tubes", ["round", "seq"])
    op.create_table(
        "sampling_registrations",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tube", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("round", sa.Text(), nullable=False),
        sa.Column("point", sa.Text(), nullable=False),
        sa.Column("registered_at", _TS, nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("name_masked", sa.Text(), nullable=False),
        sa.Column("client_ref", sa.Text(), nullable=True),
        sa.Column("scanned_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_sampling_registrations"),
        sa.UniqueConstraint("id", name="uq_sampling_registrations_id"),
        sa.UniqueConstraint("client_ref", name="uq_sampling_registrations_client_ref"),
        sa.UniqueConstraint("tube", "position", name="uq_sampling_registrations_tube_position"),
        sa.UniqueConstraint("tube", "patient_id", name="uq_sampling_registrations_tube_patient_id"),
    )
    op.create_index(
        "ix_sampling_registrations_patient_id_round", "sampling_registrations", ["patient_id", "round"]
    )


def downgrade() -> None:
    op.drop_table("sampling_registrations")
    op.drop_table("sampling_tubes")
