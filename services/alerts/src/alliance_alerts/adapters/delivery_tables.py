"""Webhook endpoints and the delivery log (schema `alerts_delivery`).

Not part of the alerts projection: it survives a rebuild by replay, so a notice delivered once
is never delivered again (the log is keyed by notice id and endpoint). A system of record: its
shape changes by a migration (`alliance_alerts/migrations`), never on start.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Identity,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)

from alliance_platform.outbox import outbox_tables

DELIVERY_SCHEMA = "alerts_delivery"
metadata = MetaData(schema=DELIVERY_SCHEMA)
# Deliveries that failed for good are dead-lettered through an outbox of the log's own, in the
# transaction that records their last attempt.
outbox, outbox_parked = outbox_tables(metadata)

# A clinic's webhook endpoint. Secrets are sealed (adapters.secret_box); during a rotation the
# previous secret stays valid, and is signed with too, until `previous_valid_until`.
endpoint = Table(
    "endpoint",
    metadata,
    Column("clinic_id", Text, primary_key=True),
    Column("url", Text, nullable=False),
    Column("secret_key_id", Text, nullable=False),
    Column("secret_sealed", LargeBinary, nullable=False),
    Column("previous_key_id", Text),
    Column("previous_sealed", LargeBinary),
    Column("previous_valid_until", DateTime(timezone=True)),
    Column("active", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)
delivery = Table(
    "delivery",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("notice_id", Uuid, nullable=False),
    Column("clinic_id", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("status", Text, nullable=False),  # pending, delivered, dead
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    # The notice's trace (W3C traceparent), which its attempts continue; NULL untraced.
    Column("traceparent", Text),
    UniqueConstraint("notice_id", "clinic_id"),
)
attempt = Table(
    "attempt",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("delivery_id", Integer, nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("outcome", Text, nullable=False),  # e.g. "200", "500", "timeout", "connect error"
)
