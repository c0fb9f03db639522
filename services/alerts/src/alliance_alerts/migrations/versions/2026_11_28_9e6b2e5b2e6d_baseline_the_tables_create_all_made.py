"""Baseline of `alerts_delivery`: webhook endpoints, deliveries and attempts, as `create_all`
made them on start before migrations.

Every statement is IF NOT EXISTS: on a database that `create_all` made, it adopts the tables
as they are (the same DDL made them); on an empty schema it creates them.

Revision ID: 9e6b2e5b2e6d
Revises: (none)
Create Date: 2026-11-28 12:56:21.443006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9e6b2e5b2e6d"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BASELINE_IS_KEPT = "the baseline holds a system of record: it is never undone"


def upgrade() -> None:
    op.create_table(
        "attempt",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        schema="alerts_delivery",
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_alerts_delivery_attempt_delivery_id"),
        "attempt",
        ["delivery_id"],
        unique=False,
        schema="alerts_delivery",
        if_not_exists=True,
    )
    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("notice_id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notice_id", "clinic_id"),
        schema="alerts_delivery",
        if_not_exists=True,
    )
    op.create_table(
        "endpoint",
        sa.Column("clinic_id", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret_key_id", sa.Text(), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("previous_key_id", sa.Text(), nullable=True),
        sa.Column("previous_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("previous_valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("clinic_id"),
        schema="alerts_delivery",
        if_not_exists=True,
    )


def downgrade() -> None:
    raise NotImplementedError(BASELINE_IS_KEPT)
