"""PostgreSQL adapter for alert state, routing and notices."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from pydantic import TypeAdapter

from alliance_alerts.application.ports import CaseKey
from alliance_alerts.domain.rules import Alert, AlertInput, Key
from alliance_contracts.events import (
    CaseAssigned,
    ClinicalSignal,
    SignalWithdrawn,
    StaffChanged,
)
from alliance_contracts.readmodels import documents
from alliance_contracts.vocabulary import StaffRole
from alliance_platform.db import CASES_JOIN, fetch_for_cases
from alliance_platform.outbox import Connection


def _alerts(rows: Iterable[object]) -> list[Alert]:
    return [Alert.model_validate_json(r["state"]) for r in rows]  # type: ignore[index]


async def active_alerts(
    conn: Connection, cases: Iterable[CaseKey]
) -> dict[CaseKey, dict[Key, Alert]]:
    """Per case, its active (not resolved) alerts by (kind, subject)."""
    rows = await fetch_for_cases(
        conn,
        f"SELECT s.state FROM alert a {CASES_JOIN} "
        f"JOIN alert_state s USING (alert_id) WHERE a.status <> 'resolved'",
        cases,
    )
    by_case: dict[CaseKey, dict[Key, Alert]] = {}
    for alert in _alerts(rows):
        by_case.setdefault((alert.clinic_id, alert.case_id), {})[(alert.kind, alert.subject)] = (
            alert
        )
    return by_case


async def lock_alert_ids(conn: Connection, alert_ids: list[uuid.UUID]) -> None:
    """Locks these alert ids, raised or not, until the transaction ends, in one order (no
    deadlock between two such statements). Reading an alert to apply a command or a clock event
    to it, and taking what was parked for it when it is raised, both lock first: otherwise an
    input parked while its alert is being raised would wait for ever. A statement of its own,
    so that the next one reads what the transaction it waited for committed."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(k) FROM (SELECT hashtextextended($1 || a::text, 0) AS k "
        "FROM unnest($2::uuid[]) AS a ORDER BY k) AS ids",
        "alerts.alert:",
        alert_ids,
    )


async def alerts_by_id(conn: Connection, alert_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Alert]:
    ids = list(alert_ids)
    await lock_alert_ids(conn, ids)
    rows = await conn.fetch(
        "SELECT s.state FROM alert a JOIN alert_state s USING (alert_id) "
        "WHERE a.alert_id = ANY($1::uuid[]) FOR UPDATE",
        ids,
    )
    return {a.alert_id: a for a in _alerts(rows)}


async def due_alerts(conn: Connection, now: datetime, limit: int) -> list[Alert]:
    """Skips the alerts of a case with parked input records (keyed by case id): those are not
    applied yet (a command, or the escalation itself, for an alert just raised waits to be
    retried), so the alert's state is not final. Otherwise a replay's clock would decide again
    what is on the alert-clock topic, or escalate an alert whose acknowledgement is parked."""
    rows = await conn.fetch(
        "SELECT s.state FROM alert a JOIN alert_state s USING (alert_id) "
        "WHERE a.status = 'open' AND NOT a.escalated AND a.escalate_at <= $1 "
        "AND NOT EXISTS (SELECT 1 FROM parked p WHERE p.key = convert_to(a.case_id, 'UTF8')) "
        "ORDER BY a.escalate_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        now,
        limit,
    )
    return _alerts(rows)


async def save_alerts(conn: Connection, alerts: Sequence[Alert]) -> None:
    """Upserts the alerts (the read model, and the aggregate in the private `alert_state`) and
    writes their histories to `alert_transition`: the one writer of every transition (the
    history the gateway shows is these rows in `seq` order)."""
    await conn.executemany(
        "INSERT INTO alert (alert_id, clinic_id, case_id, kind, subject, dyad_id, "
        "respondent_role, therapist_id, status, priority, severity, escalated, escalate_at, "
        "snoozed_until, instrument, session_number, source_event_id, summary, evidence, "
        "raised_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
        "$12, $13, $14, $15, $16, $17, $18, $19::jsonb, $20, $21) "
        "ON CONFLICT (alert_id) DO UPDATE SET therapist_id = EXCLUDED.therapist_id, "
        "status = EXCLUDED.status, severity = EXCLUDED.severity, "
        "escalated = EXCLUDED.escalated, escalate_at = EXCLUDED.escalate_at, "
        "snoozed_until = EXCLUDED.snoozed_until, summary = EXCLUDED.summary, "
        "evidence = EXCLUDED.evidence, updated_at = EXCLUDED.updated_at",
        [
            (
                a.alert_id,
                a.clinic_id,
                a.case_id,
                a.kind.value,
                a.subject,
                a.dyad.dyad_id if a.dyad else None,
                a.dyad.respondent_role.value if a.dyad else None,
                a.therapist_id,
                a.status.value,
                a.priority.value,
                a.severity,
                a.escalated,
                a.escalate_at,
                a.snoozed_until,
                a.instrument,
                a.session_number,
                a.source_event_id,
                a.summary,
                documents.dump_json(documents.Evidence, a.evidence),
                a.raised_at,
                a.history[-1].at,
            )
            for a in alerts
        ],
    )
    await conn.executemany(
        "INSERT INTO alert_state (alert_id, state) VALUES ($1, $2::jsonb) "
        "ON CONFLICT (alert_id) DO UPDATE SET state = EXCLUDED.state",
        [(a.alert_id, a.model_dump_json()) for a in alerts],
    )
    # The history is rewritten whole: an escalation recorded late (a replay that applied a later
    # acknowledgement first) is placed at its time, and the transitions after it move one seq on.
    await conn.execute(
        "DELETE FROM alert_transition WHERE alert_id = ANY($1::uuid[])",
        [a.alert_id for a in alerts],
    )
    await conn.executemany(
        "INSERT INTO alert_transition (event_id, alert_id, seq, clinic_id, at, action, "
        "status, actor_id, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [
            (
                t.event_id,
                a.alert_id,
                seq,
                a.clinic_id,
                t.at,
                t.action.value,
                t.status.value,
                t.actor_id,
                t.note,
            )
            for a in alerts
            for seq, t in enumerate(a.history)
        ],
    )


async def therapists(conn: Connection, cases: Iterable[CaseKey]) -> dict[CaseKey, str]:
    rows = await fetch_for_cases(
        conn,
        f"SELECT a.clinic_id, a.case_id, a.therapist_id FROM assignment a {CASES_JOIN}",
        cases,
    )
    return {(r["clinic_id"], r["case_id"]): r["therapist_id"] for r in rows}


async def observe_therapists(conn: Connection, seen: dict[CaseKey, str]) -> None:
    """Cases without an explicit assignment are routed to the therapist last seen rating them."""
    await conn.executemany(
        "INSERT INTO assignment (case_id, clinic_id, therapist_id, explicit) "
        "VALUES ($1, $2, $3, false) ON CONFLICT (clinic_id, case_id) DO UPDATE SET "
        "therapist_id = EXCLUDED.therapist_id, updated_at = now() "
        "WHERE NOT assignment.explicit",
        [(case, clinic, therapist) for (clinic, case), therapist in seen.items()],
    )


async def assign(conn: Connection, events: Sequence[CaseAssigned]) -> None:
    await conn.executemany(
        "INSERT INTO assignment (case_id, clinic_id, therapist_id, explicit) "
        "VALUES ($1, $2, $3, true) ON CONFLICT (clinic_id, case_id) DO UPDATE SET "
        "therapist_id = EXCLUDED.therapist_id, explicit = true, updated_at = now()",
        [(e.case_id, e.clinic_id, e.payload.therapist_id) for e in events],
    )


async def save_staff(conn: Connection, events: Sequence[StaffChanged]) -> None:
    await conn.executemany(
        "INSERT INTO staff (clinic_id, staff_id, role, active) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (clinic_id, staff_id) DO UPDATE SET role = EXCLUDED.role, "
        "active = EXCLUDED.active",
        [(e.clinic_id, e.payload.staff_id, e.payload.role.value, e.payload.active) for e in events],
    )


async def supervisors(conn: Connection, clinic_ids: Iterable[str]) -> dict[str, list[str]]:
    rows = await conn.fetch(
        "SELECT clinic_id, staff_id FROM staff WHERE clinic_id = ANY($1::text[]) "
        "AND role = $2 AND active ORDER BY staff_id",
        list(clinic_ids),
        StaffRole.SUPERVISOR.value,
    )
    found: dict[str, list[str]] = {}
    for r in rows:
        found.setdefault(r["clinic_id"], []).append(r["staff_id"])
    return found


async def park_commands(conn: Connection, commands: Sequence[AlertInput]) -> None:
    await conn.executemany(
        "INSERT INTO pending_command (event_id, alert_id, command) "
        "VALUES ($1, $2, $3::jsonb) ON CONFLICT DO NOTHING",
        [(str(c.event_id), str(c.payload.alert_id), c.model_dump_json()) for c in commands],
    )


_PARKED: TypeAdapter[AlertInput] = TypeAdapter(AlertInput)


async def take_parked(conn: Connection, alert_ids: Iterable[uuid.UUID]) -> list[AlertInput]:
    ids = list(alert_ids)
    await lock_alert_ids(conn, ids)
    rows = await conn.fetch(
        "DELETE FROM pending_command WHERE alert_id = ANY($1::text[]) RETURNING command",
        [str(a) for a in ids],
    )
    commands = [_PARKED.validate_json(r["command"]) for r in rows]
    return sorted(commands, key=lambda c: (c.occurred_at, str(c.event_id)))


async def add_case_signals(conn: Connection, signals: Sequence[ClinicalSignal]) -> None:
    await conn.executemany(
        "INSERT INTO case_signal (event_id, clinic_id, case_id, occurred_at, signal) "
        "VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING",
        [(s.event_id, s.clinic_id, s.case_id, s.occurred_at, s.model_dump_json()) for s in signals],
    )


async def withdraw_case_signals(conn: Connection, withdrawn: Sequence[SignalWithdrawn]) -> None:
    await conn.executemany(
        "UPDATE case_signal SET withdrawn = true WHERE event_id = $1",
        [(w.payload.signal_id,) for w in withdrawn],
    )


async def live_case_signals(
    conn: Connection, cases: Iterable[CaseKey]
) -> dict[CaseKey, list[ClinicalSignal]]:
    rows = await fetch_for_cases(
        conn,
        f"SELECT s.clinic_id, s.case_id, s.signal FROM case_signal s "
        f"{CASES_JOIN} WHERE NOT s.withdrawn",
        cases,
    )
    live: dict[CaseKey, list[ClinicalSignal]] = {}
    for r in rows:
        live.setdefault((r["clinic_id"], r["case_id"]), []).append(
            ClinicalSignal.model_validate_json(r["signal"])
        )
    return live


async def latest_case_signals(
    conn: Connection, cases: Iterable[CaseKey]
) -> dict[CaseKey, datetime]:
    rows = await fetch_for_cases(
        conn,
        f"SELECT s.clinic_id, s.case_id, max(s.occurred_at) AS latest "
        f"FROM case_signal s "
        f"{CASES_JOIN} GROUP BY s.clinic_id, s.case_id",
        cases,
    )
    return {(r["clinic_id"], r["case_id"]): r["latest"] for r in rows}
