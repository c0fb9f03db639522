"""Tables owned by alerts (schema `alerts`)."""

from __future__ import annotations

from sqlalchemy import MetaData, Table

from alliance_shared.outbox import plumbing_tables
from alliance_shared.readmodels import Alert, table_of

SCHEMA = "alerts"
# Bump when the tables or the fold change shape: the projection is then rebuilt by replay
# (the schema is recreated and a consumer group named after the version reads from the start).
PROJECTION_VERSION = 1
_plumbing = MetaData(schema=SCHEMA)
outbox, processed_event = plumbing_tables(_plumbing)
TABLES: list[Table] = [table_of(Alert), outbox, processed_event]
