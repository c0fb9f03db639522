"""PostgreSQL adapter: intake's submissions, the corrections of responses and its clinics'
configuration versions."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

from pydantic import Field, TypeAdapter

from alliance_contracts.clinical_config import DEFAULT_CONFIG, ClinicalConfig
from alliance_contracts.events import ClinicConfigured, ResponseAmended, ResponseSubmitted
from alliance_intake.adapters.tables import SCHEMA
from alliance_intake.application.ports import (
    CurrentConfiguration,
    Recorded,
    StaleConfiguration,
)
from alliance_intake.domain.correction import Correction, ResponseRecord
from alliance_intake.domain.submission import Accepted
from alliance_platform.outbox import Connection, OutboxMessage

# One statement, one round trip (decision 0019): the submission and its outbox row are written
# together, or nothing is, and it answers with what the key holds now. The event id it returns is
# the one offered when this statement stored it. `$11` (the configuration version the event is
# stamped with; NULL: not checked) must be the clinic's latest, or nothing is written and the
# latest is returned so the caller can stamp again. A key another transaction stored after this
# statement's snapshot leaves both `stored` and `earlier` empty (ON CONFLICT waited for it, the
# snapshot cannot see it): the statement is run again, with a fresh snapshot.
RECORD_SUBMISSION = f"""
WITH latest AS (
    SELECT coalesce(max(version), 0) AS version FROM {SCHEMA}.clinic_config WHERE clinic_id = $1
), earlier AS (
    SELECT event_id, fingerprint FROM {SCHEMA}.submission
    WHERE clinic_id = $1 AND idempotency_key = $2
), stored AS (
    INSERT INTO {SCHEMA}.submission
        (event_id, clinic_id, case_id, idempotency_key, fingerprint, event)
    SELECT $3, $1, $4, $2, $5, $6::jsonb
    WHERE NOT EXISTS (SELECT FROM earlier)
        AND ($11::int IS NULL OR $11::int = (SELECT version FROM latest))
    ON CONFLICT (clinic_id, idempotency_key) DO NOTHING
    RETURNING event_id, fingerprint
), outboxed AS (
    INSERT INTO {SCHEMA}.outbox (topic, key, event_id, value, headers)
    SELECT $7, $8, event_id, $9, $10::jsonb FROM stored
)
SELECT coalesce((SELECT event_id FROM stored), (SELECT event_id FROM earlier)) AS event_id,
    coalesce((SELECT fingerprint FROM stored), (SELECT fingerprint FROM earlier)) AS fingerprint,
    (SELECT version FROM latest) AS latest
"""
# A concurrent writer can hide a key from one snapshot at most once per commit it waits for.
RECORD_ATTEMPTS = 5


async def record_submission(
    conn: Connection,
    clinic_id: str,
    key: str,
    accepted: Accepted,
    message: OutboxMessage,
    config_version: int | None = None,
) -> Recorded | StaleConfiguration:
    """`Submissions.record` in one statement: in the caller's transaction, or alone (it is
    atomic then, and committed when it returns)."""
    event = accepted.event
    topic, outbox_key, _, value, headers = message.row()
    stored_event = value.decode()  # the event as published, serialised once
    for _ in range(RECORD_ATTEMPTS):
        row = await conn.fetchrow(
            RECORD_SUBMISSION,
            clinic_id,
            key,
            event.event_id,
            event.case_id,
            accepted.fingerprint,
            stored_event,
            topic,
            outbox_key,
            value,
            headers,
            config_version,
        )
        assert row is not None
        if row["event_id"] is not None:
            return Recorded(row["event_id"], row["fingerprint"])
        if config_version is not None and row["latest"] != config_version:
            return StaleConfiguration(row["latest"])
    raise RuntimeError(f"submission not recorded after {RECORD_ATTEMPTS} attempts")


class PostgresSubmissions:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def record(
        self, clinic_id: str, key: str, accepted: Accepted, message: OutboxMessage
    ) -> Recorded:
        recorded = await record_submission(self.conn, clinic_id, key, accepted, message)
        assert isinstance(recorded, Recorded)  # no version to check: never stale
        return recorded


async def current_configuration(conn: Connection, clinic_id: str) -> CurrentConfiguration:
    """The clinic's latest configuration version (0 and the defaults when it has none)."""
    row = await conn.fetchrow(
        f"SELECT version, configuration, effective_from FROM {SCHEMA}.clinic_config "
        "WHERE clinic_id = $1 ORDER BY version DESC LIMIT 1",
        clinic_id,
    )
    if row is None:
        return CurrentConfiguration(0, DEFAULT_CONFIG, None)
    config = ClinicalConfig.model_validate_json(row["configuration"])
    return CurrentConfiguration(row["version"], config, row["effective_from"])


class PostgresClinicConfigurations:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def lock(self, clinic_id: str) -> None:
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"config:{clinic_id}")

    async def current(self, clinic_id: str) -> CurrentConfiguration:
        return await current_configuration(self.conn, clinic_id)

    async def add(self, event: ClinicConfigured) -> None:
        await self.conn.execute(
            f"INSERT INTO {SCHEMA}.clinic_config "
            "(clinic_id, version, effective_from, configuration, event_id) "
            "VALUES ($1, $2, $3, $4::jsonb, $5)",
            event.clinic_id,
            event.payload.version,
            event.payload.effective_from,
            json.dumps(event.payload.configuration),
            event.event_id,
        )


_CORRECTION: TypeAdapter[Correction] = TypeAdapter(
    Annotated[Correction, Field(discriminator="event_type")]
)


class PostgresResponseRecords:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def by_key(
        self, clinic_id: str, key: str, *, lock: bool = False
    ) -> ResponseRecord | None:
        return await self._find("idempotency_key = $2", clinic_id, key, lock)

    async def by_event_id(
        self, clinic_id: str, event_id: uuid.UUID, *, lock: bool = False
    ) -> ResponseRecord | None:
        return await self._find("event_id = $2", clinic_id, event_id, lock)

    async def _find(
        self, where: str, clinic_id: str, value: object, lock: bool
    ) -> ResponseRecord | None:
        original = await self.conn.fetchrow(
            f"SELECT event_id, idempotency_key, event FROM {SCHEMA}.submission "
            f"WHERE clinic_id = $1 AND {where} AND event->>'event_type' = 'response.submitted'"
            + (" FOR UPDATE" if lock else ""),
            clinic_id,
            value,
        )
        if original is None:
            return None
        corrections = await self.conn.fetch(
            f"SELECT event FROM {SCHEMA}.response_correction WHERE response_id = $1 "
            "ORDER BY position",
            original["event_id"],
        )
        return ResponseRecord(
            idempotency_key=original["idempotency_key"],
            original=ResponseSubmitted.model_validate_json(original["event"]),
            corrections=tuple(_CORRECTION.validate_json(row["event"]) for row in corrections),
        )

    async def add_correction(self, correction: Correction, request_id: str | None) -> None:
        original = (
            correction.payload.amends
            if isinstance(correction, ResponseAmended)
            else correction.payload.voids
        )
        await self.conn.execute(
            f"INSERT INTO {SCHEMA}.response_correction (event_id, response_id, request_id, event) "
            "VALUES ($1, $2, $3, $4::jsonb)",
            correction.event_id,
            original,
            request_id,
            correction.model_dump_json(),
        )

    async def requested(self, request_id: str) -> uuid.UUID | None:
        event_id: uuid.UUID | None = await self.conn.fetchval(
            f"SELECT event_id FROM {SCHEMA}.response_correction WHERE request_id = $1", request_id
        )
        return event_id
