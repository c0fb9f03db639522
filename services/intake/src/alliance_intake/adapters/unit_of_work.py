"""Intake's unit of work over PostgreSQL: one pooled connection and transaction per use case, or
one atomic statement for a submission recorded alone (`record_alone`)."""

from __future__ import annotations

import asyncpg

from alliance_intake.adapters.repository import (
    PostgresClinicConfigurations,
    PostgresResponseRecords,
    PostgresSubmissions,
    record_submission,
)
from alliance_intake.adapters.tables import SCHEMA
from alliance_intake.application.ports import Recorded, StaleConfiguration
from alliance_intake.domain.submission import Accepted
from alliance_platform import tracing
from alliance_platform.outbox import Connection, OutboxMessage
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

    async def record_alone(
        self,
        clinic_id: str,
        key: str,
        accepted: Accepted,
        message: OutboxMessage,
        config_version: int | None,
    ) -> Recorded | StaleConfiguration:
        # No BEGIN/COMMIT: one statement outside a transaction block is a transaction of its
        # own (all of it or nothing), committed before PostgreSQL answers it.
        # Its span, and the outbox row's within it (the row keeps the latter's traceparent).
        with tracing.transaction(SCHEMA), tracing.enqueue(SCHEMA, 1):
            async with self.pool.acquire() as conn:
                return await record_submission(
                    conn, clinic_id, key, accepted, message, config_version
                )
