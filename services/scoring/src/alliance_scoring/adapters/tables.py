"""Tables owned by scoring (schema `scoring`): the dyad read models and the plumbing."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, MetaData, Table, Text, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB

from alliance_contracts.readmodels import CaseView, Dyad, DyadScore, Signal, table_of
from alliance_platform.config_store import clinic_config_table
from alliance_platform.outbox import plumbing_tables
from alliance_platform.tracking import consumer_tables

SCHEMA = "scoring"
# Bump when the tables or the fold change: a new generation is then built beside the live one
# from the start of the log and switched to once caught up (decision 0011). 10: sudden loss
# takes one administration per session (a session rated twice had dead-lettered its event).
# 11: `dyad_score.response_id`, the response each version belongs to (FHIR derivedFrom).
PROJECTION_VERSION = 11
_plumbing = MetaData(schema=SCHEMA)
outbox, outbox_parked, processed_event = plumbing_tables(_plumbing)
# The fold state of each case (private to scoring; the read models are derived from it).
case_state = Table(
    "case_state",
    _plumbing,
    Column("clinic_id", Text, primary_key=True),
    Column("case_id", Text, primary_key=True),
    Column("state", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)
# Every case input folded (responses, endings, amendments, voids), so a case can fold again from
# its history when a late or corrected input arrives (domain/history.py).
case_input = Table(
    "case_input",
    _plumbing,
    Column("clinic_id", Text, nullable=False),
    Column("case_id", Text, nullable=False),
    Column("event_id", Uuid, primary_key=True),
    Column("event", JSONB, nullable=False),
    Index("case_input_case", "clinic_id", "case_id"),
)
clinic_config = clinic_config_table(_plumbing)  # the clinics' configuration versions
# The consumed positions and the parked records (alliance_platform/tracking.py, parking.py).
tracking, parked = consumer_tables(_plumbing, processed_event)
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
    case_input,
    clinic_config,
    outbox,
    outbox_parked,
    processed_event,
    tracking,
    parked,
]
