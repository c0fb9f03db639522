"""PostgreSQL adapter: the submission and its outbox row in one transaction."""

from __future__ import annotations

import uuid

import asyncpg
from alliance_shared.outbox import OutboxMessage, enqueue
from alliance_shared.topics import RESPONSES

from alliance_intake.adapters.tables import SCHEMA
from alliance_intake.domain.submission import Accepted, IdempotencyConflict


async def store_submission(
    pool: asyncpg.Pool, clinic_id: str, key: str, accepted: Accepted
) -> tuple[uuid.UUID, bool]:
    """Stores the response with its outbox row. Returns (event id, duplicate?)."""
    event = accepted.event
    async with pool.acquire() as conn, conn.transaction():
        inserted = await conn.fetchval(
            f"INSERT INTO {SCHEMA}.submission "
            "(event_id, clinic_id, case_id, idempotency_key, fingerprint, event) "
            "VALUES ($1, $2, $3, $4, $5, $6::jsonb) "
            "ON CONFLICT (clinic_id, idempotency_key) DO NOTHING RETURNING event_id",
            event.event_id,
            clinic_id,
            event.case_id,
            key,
            accepted.fingerprint,
            event.model_dump_json(),
        )
        if inserted is not None:
            await enqueue(conn, SCHEMA, [OutboxMessage(RESPONSES.name, event.case_id, event)])
            return event.event_id, False
        original = await conn.fetchrow(
            f"SELECT event_id, fingerprint FROM {SCHEMA}.submission "
            "WHERE clinic_id = $1 AND idempotency_key = $2",
            clinic_id,
            key,
        )
    assert original is not None
    if original["fingerprint"] != accepted.fingerprint:
        raise IdempotencyConflict(key)
    return original["event_id"], True
