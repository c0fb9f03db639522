"""Tables owned by scoring (schema `scoring`): the dyad read models and the plumbing."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB

from alliance_contracts.readmodels import CaseView, Dyad, DyadScore, Signal, table_of
from alliance_platform.config_store import clinic_config_table
from alliance_platform.outbox import plumbing_tables

SCHEMA = "scoring"
# Bump when the tables or the fold change shape: the projection is then rebuilt by replay
# (the schema is recreated and a consumer group named after the version reads from the start).
PROJECTION_VERSION = 5
_plumbing = MetaData(schema=SCHEMA)
outbox, processed_event = plumbing_tables(_plumbing)
# The fold state of each case (private to scoring; the read models are derived from it).
case_state = Table(
    "case_state",
    _plumbing,
    Column("clinic_id", Text, primary_key=True),
    Column("case_id", Text, primary_key=True),
    Column("state", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)
clinic_config = clinic_config_table(_plumbing)  # the clinics' configuration versions
# What the gateway may read (SELECT granted to the reader role).
READ_MODELS: list[Table] = [
    table_of(Dyad),
    table_of(DyadScore),
    table_of(CaseView),
    table_of(Signal),
]
TABLES: list[Table] = [
    *READ_MODELS,
    case_state,
    clinic_config,
    outbox,
    processed_event,
]
