"""Baseline of the gateway's schema: the read audit (append-only, by a trigger), the
accepted commands and the outbox, as `create_all` and the start-up DDL made them before migrations.

Every statement is IF NOT EXISTS: on a database that `create_all` made, it adopts the tables
as they are (the same DDL made them); on an empty schema it creates them.

Revision ID: 495f7e903548
Revises: (none)
Create Date: 2026-11-28 12:56:17.325412
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "495f7e903548"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BASELINE_IS_KEPT = "the baseline holds a system of record: it is never undone"

# The audit trail is append-only: the database refuses to change or delete a record. One
# statement each (asyncpg prepares them).
APPEND_ONLY = (
    "CREATE OR REPLACE FUNCTION gateway.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'the read audit is append-only'; END $$",
    "DROP TRIGGER IF EXISTS read_audit_append_only ON gateway.read_audit",
    "CREATE TRIGGER read_audit_append_only BEFORE UPDATE OR DELETE ON gateway.read_audit "
    "FOR EACH ROW EXECUTE FUNCTION gateway.refuse_change()",
)


def upgrade() -> None:
    op.create_table(
        "command",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("client_mutation_id", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("event", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "accepted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id"),
        sa.UniqueConstraint("subject", "client_mutation_id"),
        schema="gateway",
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
        schema="gateway",
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
        schema="gateway",
        if_not_exists=True,
    )
    op.create_table(
        "read_audit",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("clinic_id", sa.Text(), nullable=False),
        sa.Column("case_ids", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("dyad_ids", sa.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("operation", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
        schema="gateway",
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_gateway_read_audit_clinic_id"),
        "read_audit",
        ["clinic_id"],
        unique=False,
        schema="gateway",
        if_not_exists=True,
    )
    for statement in APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError(BASELINE_IS_KEPT)
