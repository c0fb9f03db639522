"""PostgreSQL adapter for alert state."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence

from alliance_alerts.adapters.tables import SCHEMA
from alliance_shared.events import AlertKind, AlertRaised
from alliance_shared.outbox import Connection


async def open_alert_kinds(
    conn: Connection, dyad_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, set[AlertKind]]:
    rows = await conn.fetch(
        f"SELECT dyad_id, kind FROM {SCHEMA}.alert "
        "WHERE status = 'open' AND dyad_id = ANY($1::uuid[])",
        list(dyad_ids),
    )
    kinds: dict[uuid.UUID, set[AlertKind]] = defaultdict(set)
    for r in rows:
        kinds[r["dyad_id"]].add(AlertKind(r["kind"]))
    return kinds


async def insert_alerts(conn: Connection, alerts: Sequence[AlertRaised]) -> None:
    await conn.executemany(
        f"INSERT INTO {SCHEMA}.alert (alert_id, clinic_id, case_id, dyad_id, therapist_id, "
        "respondent_role, kind, status, instrument, session_number, source_event_id, evidence, "
        "raised_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, $11::jsonb, $12)",
        [
            (
                a.payload.alert_id,
                a.clinic_id,
                a.case_id,
                a.payload.dyad.dyad_id,
                a.payload.dyad.therapist_id,
                a.payload.dyad.respondent_role.value,
                a.payload.kind.value,
                a.payload.instrument,
                a.payload.session_number,
                a.payload.source_event_id,
                a.payload.evidence.model_dump_json(),
                a.occurred_at,
            )
            for a in alerts
        ],
    )
