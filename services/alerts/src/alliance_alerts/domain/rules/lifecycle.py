"""What moves an alert besides scoring: a user's command, a case assignment, the clock. Pure:
time is passed in.

- `on_command(alert, command)`: a user's acknowledge / resolve / snooze / reassign.
- `on_assignment(alert, event)`: a case assigned or transferred hands its active alerts over.
- `escalation_due(alert, now)`: the clock's decision that an unacknowledged alert past its
  kind's delay escalates, as an event to record; `on_clock(alert, event)` applies it once
  recorded, as a fact.
- `on_input(alert, recorded)`: a command or a clock event, whichever it is (both wait for an
  alert not raised yet).
"""

from __future__ import annotations

from datetime import datetime

from alliance_alerts.domain.rules.alert import Alert, Cause, TransitionRefused
from alliance_contracts.events import (
    AlertClockEvent,
    AlertCommand,
    CaseAssigned,
    EscalationDue,
    EscalationDuePayload,
    derived_event_id,
)
from alliance_contracts.instruments import RuleBroken
from alliance_contracts.vocabulary import AlertAction, AlertCommandAction, AlertStatus

# What moves an existing alert by its id: a user's command or the clock's recorded decision.
AlertInput = AlertCommand | AlertClockEvent


class CommandRejected(RuleBroken, ValueError):
    """The command does not apply to the alert as it is; the message says why."""


def on_command(alert: Alert, command: AlertCommand) -> Alert:
    c = command.payload
    by = Cause.of_command(command)
    try:
        match c.action:
            case AlertCommandAction.ACKNOWLEDGE:
                return alert.acknowledged(by)
            case AlertCommandAction.RESOLVE:
                return alert.resolved(by)
            case AlertCommandAction.SNOOZE:
                return alert.snoozed(by, c.snooze_until)
            case AlertCommandAction.REASSIGN:
                return alert.reassigned(by, c.assignee_id)
    except TransitionRefused as refused:
        raise CommandRejected(str(refused)) from refused
    raise CommandRejected(f"unknown action {c.action}")


def on_assignment(alert: Alert, event: CaseAssigned) -> Alert | None:
    """A case assigned or transferred to another therapist hands its active alerts over: an open
    rupture, a low early alliance, a deterioration... reach the therapist who now sees the client
    (their recognising a rupture undoes its harm: docs/clinical.md, section 6, transfers)."""
    therapist = event.payload.therapist_id
    if not alert.is_active or alert.therapist_id == therapist:
        return None
    why = "case transferred" if event.payload.transfer else "case assigned"
    if alert.therapist_id:
        why += f" from {alert.therapist_id}"
    return alert.handed_over(Cause.of_event(event, note=why), therapist)


def escalation_due(alert: Alert, now: datetime) -> EscalationDue | None:
    """The clock's decision that an open (unacknowledged) alert's escalation time has come, as
    an event to record (the alert is not changed here: `on_clock` applies the recorded event).
    Dated at its due time, not at `now`: an escalation missed while the service was down is
    decided once when it comes back. Its id derives from the alert, the transition and the due
    time, so deciding it again (a second tick, another replica) records nothing new."""
    due = alert.escalate_at
    if alert.status is not AlertStatus.OPEN or alert.escalated or due is None or due > now:
        return None
    return EscalationDue(
        event_id=derived_event_id(
            "alert-clock", alert.alert_id, AlertAction.ESCALATED.value, due.isoformat()
        ),
        clinic_id=alert.clinic_id,
        case_id=alert.case_id,
        occurred_at=due,
        recorded_at=now,
        payload=EscalationDuePayload(alert_id=alert.alert_id, due_at=due),
    )


def on_clock(alert: Alert, event: AlertClockEvent) -> Alert | None:
    """A recorded escalation, applied as a fact (it happened: whatever was applied since, in a
    replay too). The transition keeps the key of a timed escalation, so an alert escalates by
    the clock once: a second recorded decision for it (same case, same partition, so in the
    same order live and in a replay) changes nothing. Its notice is live from the due time."""
    why = "not acknowledged in time: escalated to the clinic's supervisors"
    return alert.escalation_recorded(Cause(at=event.payload.due_at, key="escalation", note=why))


def on_input(alert: Alert, recorded: AlertInput) -> Alert | None:
    """A command (CommandRejected when it does not apply) or a clock event (None when it is
    applied already)."""
    if isinstance(recorded, AlertCommand):
        return on_command(alert, recorded)
    return on_clock(alert, recorded)
