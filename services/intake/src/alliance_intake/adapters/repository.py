"""PostgreSQL adapter: the submission and its outbox row in one transaction."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime

import asyncpg

from alliance_contracts.clinical_config import DEFAULT_CONFIG, ClinicalConfig
from alliance_contracts.events import ClinicConfigured
from alliance_contracts.topics import CONFIG, RESPONSES, TopicSpec
from alliance_intake.adapters.tables import SCHEMA
from alliance_intake.domain.submission import Accepted, IdempotencyConflict
from alliance_platform.outbox import Connection, OutboxMessage, enqueue


async def store_submission(
    pool: asyncpg.Pool, clinic_id: str, key: str, accepted: Accepted
) -> tuple[uuid.UUID, bool]:
    """Stores a case submission (response, episode ending) with its outbox row, in one
    transaction. Returns (event id, duplicate?)."""
    async with pool.acquire() as conn, conn.transaction():
        return await _store(conn, clinic_id, key, accepted, RESPONSES)


async def store_clinic_event(
    pool: asyncpg.Pool, clinic_id: str, key: str, accepted: Accepted
) -> tuple[uuid.UUID, bool]:
    """Roster and assignment events go on the config topic, keyed by clinic (ordered per clinic)."""
    async with pool.acquire() as conn, conn.transaction():
        return await _store(conn, clinic_id, key, accepted, CONFIG)


async def _store(
    conn: Connection, clinic_id: str, key: str, accepted: Accepted, topic: TopicSpec
) -> tuple[uuid.UUID, bool]:
    """Idempotent on (clinic, key): a repeat returns the original id; other content conflicts."""
    event = accepted.event
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
        await enqueue(conn, SCHEMA, [OutboxMessage(topic, event)])
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


async def current_configuration(
    conn: Connection, clinic_id: str
) -> tuple[int, ClinicalConfig, datetime | None]:
    """The clinic's latest configuration version (0 and the defaults when it has none)."""
    row = await conn.fetchrow(
        f"SELECT version, configuration, effective_from FROM {SCHEMA}.clinic_config "
        "WHERE clinic_id = $1 ORDER BY version DESC LIMIT 1",
        clinic_id,
    )
    if row is None:
        return 0, DEFAULT_CONFIG, None
    config = ClinicalConfig.model_validate_json(row["configuration"])
    return row["version"], config, row["effective_from"]


async def latest_config_version(pool: asyncpg.Pool, clinic_id: str) -> int:
    async with pool.acquire() as conn:
        return (await current_configuration(conn, clinic_id))[0]


async def store_configuration(
    pool: asyncpg.Pool,
    clinic_id: str,
    key: str,
    build: Callable[[int, ClinicalConfig], Accepted],
) -> tuple[uuid.UUID, bool]:
    """Builds the next version from the current one and stores it with its outbox row, under a
    per-clinic lock so versions are gapless."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"config:{clinic_id}")
        version, config, _ = await current_configuration(conn, clinic_id)
        accepted = build(version + 1, config)
        event_id, duplicate = await _store(conn, clinic_id, key, accepted, CONFIG)
        if not duplicate:
            event = accepted.event
            assert isinstance(event, ClinicConfigured)
            await conn.execute(
                f"INSERT INTO {SCHEMA}.clinic_config "
                "(clinic_id, version, effective_from, configuration, event_id) "
                "VALUES ($1, $2, $3, $4::jsonb, $5)",
                clinic_id,
                event.payload.version,
                event.payload.effective_from,
                json.dumps(event.payload.configuration),
                event.event_id,
            )
        return event_id, duplicate
