"""Tables owned by scoring (schema `scoring`): the dyad read models and the plumbing."""

from __future__ import annotations

from alliance_shared.outbox import plumbing_tables
from alliance_shared.readmodels import Dyad, DyadScore, table_of
from sqlalchemy import MetaData, Table

SCHEMA = "scoring"
_plumbing = MetaData(schema=SCHEMA)
outbox, processed_event = plumbing_tables(_plumbing)
TABLES: list[Table] = [table_of(Dyad), table_of(DyadScore), outbox, processed_event]
