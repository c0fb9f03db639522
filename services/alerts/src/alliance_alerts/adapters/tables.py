"""Tables owned by alerts (schema `alerts`)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, MetaData, Table, Text, Uuid
from sqlalchemy.dialects.postgresql import JSONB

from alliance_contracts.readmodels import Alert, AlertTransition, CaseAssignment, table_of
from alliance_platform.config_store import clinic_config_table
from alliance_platform.outbox import plumbing_tables
from alliance_platform.tracking import consumer_tables

SCHEMA = "alerts"
# Bump when the tables or the fold change: a new generation is then built beside the live one
# from the start of the log and switched to once caught up (decision 0011). 8: an escalation
# recorded after a later acknowledgement keeps its row (it was lost to a seq conflict).
PROJECTION_VERSION = 8
_plumbing = MetaData(schema=SCHEMA)
outbox, outbox_parked, processed_event = plumbing_tables(_plumbing)
clinic_config = clinic_config_table(_plumbing)  # the clinics' configuration versions
# The consumed positions and the parked records (alliance_platform/tracking.py, parking.py).
tracking, parked = consumer_tables(_plumbing, processed_event)
staff = Table(
    "staff",
    _plumbing,
    Column("clinic_id", Text, primary_key=True),
    Column("staff_id", Text, primary_key=True),
    Column("role", Text, nullable=False),
    Column("active", Boolean, nullable=False),
)
# Each alert as its rules fold it (private: the gateway reads `alert` and `alert_transition`).
alert_state = Table(
    "alert_state",
    _plumbing,
    Column("alert_id", Uuid, primary_key=True),
    Column("state", JSONB, nullable=False),
)
# Commands and recorded clock escalations that arrived before their alert (the topics are not
# ordered with each other); `command` holds the event.
pending_command = Table(
    "pending_command",
    _plumbing,
    Column("event_id", Text, primary_key=True),
    Column("alert_id", Text, nullable=False, index=True),
    Column("command", JSONB, nullable=False),
)
# Every clinical signal of a case and whether scoring withdrew it: when it does, the case's
# alerts are reconciled with the signals that still hold (domain/rules/reconcile.py).
case_signal = Table(
    "case_signal",
    _plumbing,
    Column("event_id", Uuid, primary_key=True),
    Column("clinic_id", Text, nullable=False),
    Column("case_id", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("signal", JSONB, nullable=False),
    Column("withdrawn", Boolean, nullable=False, server_default="false"),
    Index("case_signal_case", "clinic_id", "case_id"),
)
# What the gateway may read (SELECT granted to the reader role); assignments count towards
# a clinician's caseload.
READ_MODELS: list[Table] = [table_of(Alert), table_of(AlertTransition), table_of(CaseAssignment)]
TABLES: list[Table] = [
    *READ_MODELS,
    alert_state,
    clinic_config,
    staff,
    pending_command,
    case_signal,
    outbox,
    outbox_parked,
    processed_event,
    tracking,
    parked,
]
