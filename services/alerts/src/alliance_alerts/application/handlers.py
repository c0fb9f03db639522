"""Use cases of the alerts service. Each runs in one PostgreSQL transaction that records the
processed event ids, the alert changes, their history and the notices (outbox)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from alliance_alerts.adapters.store import (
    active_alerts,
    alerts_by_id,
    assign,
    due_alerts,
    observe_therapists,
    park_commands,
    save_alerts,
    save_staff,
    supervisors,
    take_parked,
    therapists,
)
from alliance_alerts.adapters.tables import SCHEMA
from alliance_alerts.domain.rules import (
    Alert,
    CommandRejected,
    escalation_due,
    notice,
    on_assignment,
    on_command,
    on_scoring,
    recipients,
)
from alliance_contracts.events import (
    AlertCommand,
    CaseAssigned,
    ClinicConfigured,
    ClinicInput,
    ResponseScored,
    ScoringOutput,
    StaffChanged,
)
from alliance_contracts.topics import NOTICES
from alliance_platform.config_store import configuration_resolver, save_configurations
from alliance_platform.outbox import Connection, OutboxMessage, claim_new_events, enqueue

log = logging.getLogger(__name__)


async def apply_scoring(pool: asyncpg.Pool, events: Sequence[ScoringOutput]) -> int:
    """Scored responses and clinical signals raise, update or resolve alerts. Returns notices."""
    async with pool.acquire() as conn, conn.transaction():
        fresh = await claim_new_events(conn, SCHEMA, events)
        if not fresh:
            return 0
        resolve = await configuration_resolver(
            conn, SCHEMA, [(e.clinic_id, e.config_version) for e in fresh]
        )
        seen = {
            (e.clinic_id, e.case_id): e.payload.dyad.therapist_id
            for e in fresh
            if isinstance(e, ResponseScored)
        }
        await observe_therapists(conn, seen)
        cases = {(e.clinic_id, e.case_id) for e in fresh}
        assigned = await therapists(conn, cases)
        active = await active_alerts(conn, cases)
        changed: dict[uuid.UUID, Alert] = {}
        before = {a.alert_id: len(a.history) for case in active.values() for a in case.values()}
        for event in fresh:
            config = resolve(event.clinic_id, event.config_version, event.occurred_at)
            case = (event.clinic_id, event.case_id)
            case_alerts = active.setdefault(case, {})
            for alert in on_scoring(event, case_alerts, config, assigned.get(case)):
                changed[alert.alert_id] = alert
                if alert.is_active:
                    case_alerts[(alert.kind, alert.subject)] = alert
                else:
                    case_alerts.pop((alert.kind, alert.subject), None)
        raised = [a for a in changed.values() if a.alert_id not in before]
        for command in await take_parked(conn, [a.alert_id for a in raised]):
            alert = changed[command.payload.alert_id]
            try:
                changed[alert.alert_id] = on_command(alert, command)
            except CommandRejected as rejected:
                log.warning("parked command rejected", extra={"reason": str(rejected)})
        return await _notify(conn, changed, before)


async def _notify(
    conn: Connection, changed: dict[uuid.UUID, Alert], before: dict[uuid.UUID, int]
) -> int:
    """Saves the changed alerts and enqueues one notice per transition they gained."""
    alerts = list(changed.values())
    if not alerts:
        return 0
    await save_alerts(conn, alerts)
    staff = await supervisors(conn, {a.clinic_id for a in alerts})
    notices = []
    for alert in alerts:
        for step in range(before.get(alert.alert_id, 0), len(alert.history)):
            at_step = alert.model_copy(update={"history": alert.history[: step + 1]})
            notices.append(notice(at_step, recipients(at_step, staff.get(alert.clinic_id, []))))
    await enqueue(conn, SCHEMA, [OutboxMessage(NOTICES, n) for n in notices])
    return len(notices)


async def apply_commands(pool: asyncpg.Pool, commands: Sequence[AlertCommand]) -> int:
    """Users' commands (from the gateway). A command for an alert not raised yet is parked and
    applied when it is; a command that does not apply raises CommandRejected (dead-lettered)."""
    async with pool.acquire() as conn, conn.transaction():
        fresh = await claim_new_events(conn, SCHEMA, commands)
        alerts = await alerts_by_id(conn, {c.payload.alert_id for c in fresh})
        before = {a.alert_id: len(a.history) for a in alerts.values()}
        changed: dict[uuid.UUID, Alert] = {}
        parked = []
        for command in fresh:
            alert = alerts.get(command.payload.alert_id)
            if alert is None:
                parked.append(command)
                continue
            alerts[alert.alert_id] = changed[alert.alert_id] = on_command(alert, command)
        await park_commands(conn, parked)
        return await _notify(conn, changed, before)


async def apply_clinic_events(pool: asyncpg.Pool, events: Sequence[ClinicInput]) -> int:
    """Configuration versions, the staff roster and case assignments (routing). An assignment
    moves the case's active alerts to the new therapist. Returns notices."""
    async with pool.acquire() as conn, conn.transaction():
        fresh = await claim_new_events(conn, SCHEMA, events)
        await save_configurations(
            conn, SCHEMA, [e for e in fresh if isinstance(e, ClinicConfigured)]
        )
        await save_staff(conn, [e for e in fresh if isinstance(e, StaffChanged)])
        assignments = [e for e in fresh if isinstance(e, CaseAssigned)]
        await assign(conn, assignments)
        active = await active_alerts(conn, {(e.clinic_id, e.case_id) for e in assignments})
        before = {a.alert_id: len(a.history) for case in active.values() for a in case.values()}
        changed: dict[uuid.UUID, Alert] = {}
        for event in assignments:
            case = (event.clinic_id, event.case_id)
            for key, alert in active.get(case, {}).items():
                moved = on_assignment(alert, event)
                if moved is not None:
                    active[case][key] = changed[alert.alert_id] = moved
        return await _notify(conn, changed, before)


async def escalate_due(pool: asyncpg.Pool, now: datetime, limit: int = 500) -> int:
    """Escalates the open alerts whose time has come (also those that came due while the
    service was down: once each, dated at their due time). Returns notices."""
    async with pool.acquire() as conn, conn.transaction():
        due = await due_alerts(conn, now, limit)
        before = {a.alert_id: len(a.history) for a in due}
        changed: dict[uuid.UUID, Alert] = {}
        for alert in due:
            escalated = escalation_due(alert, now)
            if escalated is not None:
                changed[alert.alert_id] = escalated
        return await _notify(conn, changed, before)
