"""What moves an alert besides scoring: a user's command, a case assignment, the clock. Pure:
time is passed in.

- `on_command(alert, command)`: a user's acknowledge / resolve / snooze / reassign.
- `on_assignment(alert, event)`: a case assigned or transferred hands its active alerts over.
- `escalation_due(alert, now)`: an unacknowledged alert past its kind's delay escalates.
"""

from __future__ import annotations

from datetime import datetime

from alliance_alerts.domain.rules.alert import Alert, Cause, TransitionRefused
from alliance_contracts.events import AlertCommand, CaseAssigned
from alliance_contracts.instruments import RuleBroken
from alliance_contracts.vocabulary import AlertCommandAction, AlertStatus


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


def escalation_due(alert: Alert, now: datetime) -> Alert | None:
    """Escalates an open (unacknowledged) alert whose time has come. The transition is dated at
    its due time, not at `now`: an escalation missed while the service was down fires once when
    it comes back, and a replay dates it the same."""
    due = alert.escalate_at
    if alert.status is not AlertStatus.OPEN or alert.escalated or due is None or due > now:
        return None
    why = "not acknowledged in time: escalated to the clinic's supervisors"
    return alert.escalated_to_supervisors(Cause(at=due, key="escalation", note=why))
