"""Baseline of intake's schema: the tables `create_all` made on start before migrations.

Every statement is IF NOT EXISTS: on a database that `create_all` made, it adopts the tables
as they are (the same DDL made them); on an empty schema it creates them.

Revision ID: 050c8d2a918f
Revises: (none)
Create Date: 2026-11-28 12:56:13.230852
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "050c8d2a918f"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BASELINE_IS_KEPT = "the baseline holds a system of record: it is never undone"


def upgrade() -> None:
    op.create_table(
        "clinic_config",
        sa.Column("clinic_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("configuration", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("clinic_id", "version"),
        schema="intake",
        if_not_exists=True,
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        schema="intake",
        if_not_exists=True,
    )
    op.create_table(
        "processed_event",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id"),
        schema="intake",
        if_not_exists=True,
    )
    op.create_table(
        "response_correction",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("response_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("event", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "accepted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id"),
        sa.UniqueConstraint("position"),
        sa.UniqueConstraint("request_id"),
        schema="intake",
        if_not_exists=True,
    )
    op.create_index(
        "response_correction_response",
        "response_correction",
        ["response_id", "position"],
        unique=False,
        schema="intake",
        if_not_exists=True,
    )
    op.create_table(
        "submission",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Text(), nullable=False),
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("event", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "accepted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id"),
        sa.UniqueConstraint("clinic_id", "idempotency_key"),
        schema="intake",
        if_not_exists=True,
    )


def downgrade() -> None:
    raise NotImplementedError(BASELINE_IS_KEPT)
