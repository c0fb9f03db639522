"""Use cases of the alerts service. Each runs in one transaction (see `ports.AlertsUnitOfWork`)
that records the processed event ids, the alert changes, their history and the notices
(outbox). The clock (`escalate_due`) changes no alert: it records its decisions as events,
which `apply_clock` applies like any other input."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from alliance_alerts.application.ports import AlertsUnitOfWork, CaseKey
from alliance_alerts.domain.rules import (
    Alert,
    AlertInput,
    Cause,
    CommandRejected,
    escalation_due,
    implied,
    notice,
    on_assignment,
    on_input,
    on_scoring,
    recipients,
    reconcile,
)
from alliance_contracts.clinical_config import ClinicalConfig
from alliance_contracts.events import (
    AlertClockEvent,
    AlertCommand,
    CaseAssigned,
    ClinicalSignal,
    ClinicConfigured,
    ClinicInput,
    ResponseScored,
    ScoringOutput,
    SignalWithdrawn,
    StaffChanged,
)
from alliance_contracts.topics import ALERT_CLOCK, NOTICES
from alliance_platform.outbox import OutboxMessage

log = logging.getLogger(__name__)


async def apply_scoring(uow: AlertsUnitOfWork, events: Sequence[ScoringOutput]) -> int:
    """Clinical signals raise, update or resolve alerts; withdrawn signals bring their case's
    alerts back in line with the signals that still hold. Returns notices."""
    async with uow:
        fresh = await uow.processed.claim(events)
        if not fresh:
            if uow.processed.to_commit:  # parked records or consumed positions
                await uow.commit()
            return 0  # all seen before: nothing to commit
        seen = {
            (e.clinic_id, e.case_id): e.payload.dyad.therapist_id
            for e in fresh
            if isinstance(e, ResponseScored)
        }
        await uow.routing.observe(seen)
        signals = [e for e in fresh if isinstance(e, ClinicalSignal)]
        withdrawn = [e for e in fresh if isinstance(e, SignalWithdrawn)]
        again = _rejudged(withdrawn, signals, await uow.signals.latest(_cases(signals)))
        live = await uow.signals.live(again) if again else {}
        await uow.signals.add(signals)
        await uow.signals.withdraw(withdrawn)
        resolve = await uow.configurations.resolver(
            [(s.clinic_id, s.config_version) for s in signals]
            + [(s.clinic_id, s.config_version) for case in live.values() for s in case]
        )

        def config_of(signal: ClinicalSignal) -> ClinicalConfig:
            return resolve(signal.clinic_id, signal.config_version, signal.occurred_at)

        cases = {(e.clinic_id, e.case_id) for e in fresh}
        assigned = await uow.routing.therapists(cases)
        active = await uow.alerts.active(cases)
        changed: dict[uuid.UUID, Alert] = {}
        before = _transitions(a for case in active.values() for a in case.values())
        for signal in signals:
            case = (signal.clinic_id, signal.case_id)
            if case in again:
                continue
            case_alerts = active.setdefault(case, {})
            for alert in on_scoring(signal, case_alerts, config_of(signal), assigned.get(case)):
                changed[alert.alert_id] = alert
                if alert.is_active:
                    case_alerts[(alert.kind, alert.subject)] = alert
                else:
                    case_alerts.pop((alert.kind, alert.subject), None)
        gone = {w.payload.signal_id for w in withdrawn}
        holding: dict[CaseKey, list[ClinicalSignal]] = {case: [] for case in again}
        for s in [*(s for case in live.values() for s in case), *signals]:
            case = (s.clinic_id, s.case_id)
            if case in holding and s.event_id not in gone:
                holding[case].append(s)
        implied_by_case = {
            case: implied(still, config_of, assigned.get(case)) for case, still in holding.items()
        }
        known = await uow.alerts.by_id(
            a.alert_id for case in implied_by_case.values() for a in case.values()
        )
        for case, (cause, why) in again.items():
            for alert in reconcile(active.get(case, {}), implied_by_case[case], known, cause, why):
                changed[alert.alert_id] = alert
        raised = [a for a in changed.values() if a.alert_id not in before]
        for waiting in await uow.parked.take([a.alert_id for a in raised]):
            alert = changed[waiting.payload.alert_id]
            try:
                changed[alert.alert_id] = on_input(alert, waiting) or alert
            except CommandRejected as rejected:
                log.warning("parked command rejected", extra={"reason": str(rejected)})
        notices = await _notify(uow, changed, before)
        await uow.commit()
    return notices


def _cases(events: Sequence[ClinicalSignal]) -> set[CaseKey]:
    return {(e.clinic_id, e.case_id) for e in events}


def _rejudged(
    withdrawn: Sequence[SignalWithdrawn],
    signals: Sequence[ClinicalSignal],
    latest: dict[CaseKey, datetime],
) -> dict[CaseKey, tuple[Cause, str]]:
    """The cases whose alerts are reconciled as a whole once the batch's signals are in, with
    the cause and why: those with a withdrawal, and those with a signal about something earlier
    than their latest (scoring folded them again; its withdrawals came in an earlier batch)."""
    again: dict[CaseKey, tuple[Cause, str]] = {}
    for w in withdrawn:
        again.setdefault(
            (w.clinic_id, w.case_id),
            (Cause.of_event(w), w.payload.reason.value.replace("_", " ")),
        )
    seen = dict(latest)
    for s in signals:
        case = (s.clinic_id, s.case_id)
        if case not in again and case in seen and s.occurred_at < seen[case]:
            again[case] = (Cause.of_event(s), "a case judged again")
        seen[case] = max(seen.get(case, s.occurred_at), s.occurred_at)
    return again


def _transitions(alerts: Iterable[Alert]) -> dict[uuid.UUID, set[uuid.UUID]]:
    """Per alert, the ids of the transitions it has (to tell which ones a use case adds)."""
    return {a.alert_id: {t.event_id for t in a.history} for a in alerts}


async def _notify(
    uow: AlertsUnitOfWork,
    changed: dict[uuid.UUID, Alert],
    before: dict[uuid.UUID, set[uuid.UUID]],
) -> int:
    """Saves the changed alerts and enqueues one notice per transition they gained (a recorded
    escalation may sit before later transitions in the history)."""
    alerts = list(changed.values())
    if not alerts:
        return 0
    await uow.alerts.save(alerts)
    staff = await uow.routing.supervisors({a.clinic_id for a in alerts})
    notices = []
    for alert in alerts:
        known = before.get(alert.alert_id, set())
        to = recipients(alert, staff.get(alert.clinic_id, []))
        notices += [notice(alert, to, t) for t in alert.history if t.event_id not in known]
    await uow.outbox.add([OutboxMessage(NOTICES, n) for n in notices])
    return len(notices)


async def apply_commands(uow: AlertsUnitOfWork, commands: Sequence[AlertCommand]) -> int:
    """Users' commands (from the gateway). A command for an alert not raised yet is parked and
    applied when it is; a command that does not apply raises CommandRejected (dead-lettered)."""
    return await _apply_to_alerts(uow, commands)


async def apply_clock(uow: AlertsUnitOfWork, events: Sequence[AlertClockEvent]) -> int:
    """The clock's recorded decisions (alerts' own clock topic), applied as facts: an escalation
    is dated at its due time and kept whatever was applied since; one for an alert not raised
    yet (in a replay the topics are not ordered with each other) waits like a command."""
    return await _apply_to_alerts(uow, events)


async def _apply_to_alerts(uow: AlertsUnitOfWork, inputs: Sequence[AlertInput]) -> int:
    async with uow:
        fresh = await uow.processed.claim(inputs)
        alerts = await uow.alerts.by_id({c.payload.alert_id for c in fresh})
        before = _transitions(alerts.values())
        changed: dict[uuid.UUID, Alert] = {}
        parked = []
        for recorded in fresh:
            alert = alerts.get(recorded.payload.alert_id)
            if alert is None:
                parked.append(recorded)
                continue
            moved = on_input(alert, recorded)
            if moved is not None:
                alerts[alert.alert_id] = changed[alert.alert_id] = moved
        await uow.parked.park(parked)
        notices = await _notify(uow, changed, before)
        await uow.commit()
    return notices


async def apply_clinic_events(uow: AlertsUnitOfWork, events: Sequence[ClinicInput]) -> int:
    """Configuration versions, the staff roster and case assignments (routing). An assignment
    moves the case's active alerts to the new therapist. Returns notices."""
    async with uow:
        fresh = await uow.processed.claim(events)
        await uow.configurations.save([e for e in fresh if isinstance(e, ClinicConfigured)])
        await uow.routing.save_staff([e for e in fresh if isinstance(e, StaffChanged)])
        assignments = [e for e in fresh if isinstance(e, CaseAssigned)]
        await uow.routing.assign(assignments)
        active = await uow.alerts.active({(e.clinic_id, e.case_id) for e in assignments})
        before = _transitions(a for case in active.values() for a in case.values())
        changed: dict[uuid.UUID, Alert] = {}
        for event in assignments:
            case = (event.clinic_id, event.case_id)
            for key, alert in active.get(case, {}).items():
                moved = on_assignment(alert, event)
                if moved is not None:
                    active[case][key] = changed[alert.alert_id] = moved
        notices = await _notify(uow, changed, before)
        await uow.commit()
    return notices


async def escalate_due(uow: AlertsUnitOfWork, now: datetime, limit: int = 500) -> int:
    """The clock: records on the alert-clock topic (through the outbox) an escalation for each
    open alert whose time has come by `now` (also those that came due while the service was
    down, dated at their due time). The alerts change when the consumer applies the recorded
    events (`apply_clock`), so a replay repeats them. Returns events recorded."""
    async with uow:
        due = await uow.alerts.due(now, limit)
        decided = [e for e in (escalation_due(alert, now) for alert in due) if e is not None]
        await uow.outbox.add([OutboxMessage(ALERT_CLOCK, e) for e in decided])
        await uow.commit()
    return len(decided)
