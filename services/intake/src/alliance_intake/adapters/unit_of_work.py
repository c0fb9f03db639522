"""Intake's unit of work over PostgreSQL: one pooled connection and transaction per use case."""

from __future__ import annotations

import asyncpg

from alliance_intake.adapters.repository import (
    PostgresClinicConfigurations,
    PostgresResponseRecords,
    PostgresSubmissions,
)
from alliance_intake.adapters.tables import SCHEMA
from alliance_platform.outbox import Connection
from alliance_platform.unit_of_work import PostgresUnitOfWork


class PostgresIntakeUnitOfWork(PostgresUnitOfWork):
    submissions: PostgresSubmissions
    configurations: PostgresClinicConfigurations
    responses: PostgresResponseRecords

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool, SCHEMA)

    def bind(self, conn: Connection) -> None:
        self.submissions = PostgresSubmissions(conn)
        self.configurations = PostgresClinicConfigurations(conn)
        self.responses = PostgresResponseRecords(conn)
