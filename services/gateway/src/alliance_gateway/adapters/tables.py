"""Tables owned by the gateway (schema `gateway`): the read audit (append-only), the commands
it accepted (idempotency by client mutation id) and its outbox. It writes nothing else."""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    DateTime,
    Identity,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from alliance_platform.outbox import plumbing_tables

SCHEMA = "gateway"
metadata = MetaData(schema=SCHEMA)
# Append-only: a trigger refuses to change or delete a record (the schema's migrations,
# `alliance_gateway/migrations`, create it and every table here).
read_audit = Table(
    "read_audit",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    Column("subject", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("clinic_id", Text, nullable=False, index=True),
    Column("case_ids", ARRAY(Text), nullable=False),
    Column("dyad_ids", ARRAY(Uuid), nullable=False),
    Column("operation", Text),
    Column("address", Text),
)
command = Table(
    "command",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("subject", Text, nullable=False),
    Column("client_mutation_id", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("event", JSONB, nullable=False),
    Column("accepted_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    UniqueConstraint("subject", "client_mutation_id"),
)
outbox, outbox_parked, processed_event = plumbing_tables(metadata)
