"""PostgreSQL adapter for the dyad projections (asyncpg, batched: this is the hot path)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from alliance_shared.events import DyadRef, RespondentRole, ResponseScored
from alliance_shared.outbox import Connection

from alliance_scoring.adapters.tables import SCHEMA
from alliance_scoring.domain.dyads import DyadState


async def load_dyads(conn: Connection, dyad_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, DyadState]:
    rows = await conn.fetch(
        f"SELECT dyad_id, clinic_id, case_id, therapist_id, respondent_role, respondent_id, "
        f"responses, latest FROM {SCHEMA}.dyad WHERE dyad_id = ANY($1::uuid[])",
        list(dyad_ids),
    )
    return {
        r["dyad_id"]: DyadState(
            dyad=DyadRef(
                dyad_id=r["dyad_id"],
                therapist_id=r["therapist_id"],
                respondent_role=RespondentRole(r["respondent_role"]),
                respondent_id=r["respondent_id"],
            ),
            clinic_id=r["clinic_id"],
            case_id=r["case_id"],
            responses=r["responses"],
            latest=json.loads(r["latest"]),
        )
        for r in rows
    }


async def save_dyads(conn: Connection, states: Iterable[DyadState], now: datetime) -> None:
    await conn.executemany(
        f"INSERT INTO {SCHEMA}.dyad (dyad_id, clinic_id, case_id, therapist_id, respondent_role, "
        "respondent_id, responses, latest, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9) "
        "ON CONFLICT (dyad_id) DO UPDATE SET responses = EXCLUDED.responses, "
        "latest = EXCLUDED.latest, updated_at = EXCLUDED.updated_at",
        [
            (
                s.dyad.dyad_id,
                s.clinic_id,
                s.case_id,
                s.dyad.therapist_id,
                s.dyad.respondent_role.value,
                s.dyad.respondent_id,
                s.responses,
                json.dumps(s.latest),
                now,
            )
            for s in states
        ],
    )


async def insert_scores(conn: Connection, scored: Sequence[ResponseScored]) -> None:
    await conn.executemany(
        f"INSERT INTO {SCHEMA}.dyad_score (source_event_id, dyad_id, clinic_id, instrument, form, "
        "session_number, administered_at, total, subscales, normalized, scoring_key) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11) "
        "ON CONFLICT (source_event_id) DO NOTHING",
        [
            (
                e.payload.source_event_id,
                e.payload.dyad.dyad_id,
                e.clinic_id,
                e.payload.instrument,
                e.payload.form,
                e.payload.session_number,
                e.payload.administered_at,
                e.payload.total,
                json.dumps(e.payload.subscales),
                e.payload.normalized,
                e.payload.scoring_key,
            )
            for e in scored
        ],
    )
