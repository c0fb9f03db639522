"""PostgreSQL adapter: intake's submissions and its clinics' configuration versions."""

from __future__ import annotations

import json

from alliance_contracts.clinical_config import DEFAULT_CONFIG, ClinicalConfig
from alliance_contracts.events import ClinicConfigured
from alliance_intake.adapters.tables import SCHEMA
from alliance_intake.application.ports import CurrentConfiguration, Recorded
from alliance_intake.domain.submission import Accepted
from alliance_platform.outbox import Connection


class PostgresSubmissions:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def add(self, clinic_id: str, key: str, accepted: Accepted) -> bool:
        event = accepted.event
        inserted = await self.conn.fetchval(
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
        return inserted is not None

    async def recorded(self, clinic_id: str, key: str) -> Recorded:
        original = await self.conn.fetchrow(
            f"SELECT event_id, fingerprint FROM {SCHEMA}.submission "
            "WHERE clinic_id = $1 AND idempotency_key = $2",
            clinic_id,
            key,
        )
        assert original is not None
        return Recorded(original["event_id"], original["fingerprint"])


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
