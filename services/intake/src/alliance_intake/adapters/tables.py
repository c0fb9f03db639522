"""Tables owned by intake (schema `intake`)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from alliance_platform.config_store import clinic_config_table
from alliance_platform.outbox import plumbing_tables

SCHEMA = "intake"
metadata = MetaData(schema=SCHEMA)

# Every accepted response, durable before we answer 202: the intake's own record.
submission = Table(
    "submission",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("clinic_id", Text, nullable=False),
    Column("case_id", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("event", JSONB, nullable=False),
    Column("accepted_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    UniqueConstraint("clinic_id", "idempotency_key"),
)
# Every amendment and void of an accepted response (the original stays in `submission`): with
# it, the audit trail of each response. `position` keeps their order.
response_correction = Table(
    "response_correction",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("position", BigInteger, Identity(), nullable=False, unique=True),
    Column("response_id", Uuid, nullable=False),  # the original response.submitted
    Column("request_id", Text, unique=True),  # the gateway request applied, if any
    Column("event", JSONB, nullable=False),
    Column("accepted_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    Index("response_correction_response", "response_id", "position"),
)
# Every version of every clinic's configuration (intake is where configuration changes arrive).
clinic_config = clinic_config_table(
    metadata,
    Column("event_id", Uuid, nullable=False),
    Column("recorded_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)
outbox, outbox_parked, processed_event = plumbing_tables(metadata)
