"""Alert rules and lifecycle, pure: no I/O, no clock (time is passed in), no randomness.

- `on_scoring(event, ...)`: scoring's derived events raise, update or resolve alerts.
- `on_command(alert, command)`: a user's acknowledge / resolve / snooze / reassign.
- `escalation_due(alert, now)`: an unacknowledged alert past its kind's delay escalates.

Every change appends a transition to the alert's history and becomes one notice. Ids derive
from the inputs, so a replay or a redelivery produces the same alerts, transitions and notices.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from alliance_contracts.clinical_config import ClinicalConfig
from alliance_contracts.events import (
    AlertCommand,
    AlertNotice,
    AlertNoticePayload,
    CaseAssigned,
    ClinicalSignal,
    ClinicalSignalPayload,
    DyadRef,
    EventEnvelope,
    ResponseScored,
    RuleEvidence,
    derived_event_id,
)
from alliance_contracts.instruments import REGISTRY, Construct, RuleBroken
from alliance_contracts.vocabulary import (
    AlertAction,
    AlertCommandAction,
    AlertKind,
    AlertPriority,
    AlertStatus,
    Severity,
    SignalKind,
)


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Transition(Value):
    event_id: uuid.UUID
    at: datetime  # when it happened (event time)
    recorded_at: datetime  # when the platform recorded its cause (decides liveness of webhooks)
    action: AlertAction
    status: AlertStatus  # after the transition
    actor_id: str | None = None
    note: str | None = None


class Alert(Value):
    alert_id: uuid.UUID
    clinic_id: str
    case_id: str
    kind: AlertKind
    subject: str
    dyad: DyadRef | None
    instrument: str | None
    session_number: int | None
    severity: Severity | None
    priority: AlertPriority
    status: AlertStatus
    therapist_id: str | None  # the recipient: the case's assigned therapist
    escalated: bool = False
    escalate_at: datetime | None = None  # when unacknowledged it escalates; None: never
    snoozed_until: datetime | None = None
    raised_at: datetime
    source_event_id: uuid.UUID
    summary: str
    evidence: tuple[RuleEvidence, ...] = ()
    history: tuple[Transition, ...] = ()

    @property
    def is_active(self) -> bool:
        return self.status is not AlertStatus.RESOLVED

    def moved(
        self,
        action: AlertAction,
        at: datetime,
        key: object,
        *,
        recorded_at: datetime | None = None,
        actor_id: str | None = None,
        note: str | None = None,
        **changes: object,
    ) -> Alert:
        """This alert after one transition (the transition is appended to its history)."""
        status = AlertStatus(str(changes.get("status", self.status)))
        transition = Transition(
            event_id=derived_event_id("alert-transition", self.alert_id, action.value, key),
            at=at,
            recorded_at=recorded_at or at,
            action=action,
            status=status,
            actor_id=actor_id,
            note=note,
        )
        # Validated (model_copy is not): a misspelt or mistyped change fails here, loudly.
        return Alert.model_validate(
            {**dict(self), **changes, "history": (*self.history, transition)}
        )


Key = tuple[AlertKind, str]  # (kind, subject): at most one active alert per key in a case


def notice(alert: Alert, recipients: Sequence[str]) -> AlertNotice:
    """The notice of the alert's latest transition."""
    last = alert.history[-1]
    return AlertNotice(
        event_id=last.event_id,
        clinic_id=alert.clinic_id,
        case_id=alert.case_id,
        occurred_at=last.at,
        recorded_at=last.recorded_at,
        payload=AlertNoticePayload(
            alert_id=alert.alert_id,
            kind=alert.kind,
            action=last.action,
            status=alert.status,
            priority=alert.priority,
            severity=alert.severity,
            dyad=alert.dyad,
            subject=alert.subject,
            instrument=alert.instrument,
            session_number=alert.session_number,
            summary=alert.summary,
            recipients=list(recipients),
            escalated=alert.escalated,
            snoozed_until=alert.snoozed_until,
            actor_id=last.actor_id,
            note=last.note,
            source_event_id=alert.source_event_id,
            evidence=list(alert.evidence),
        ),
    )


def recipients(alert: Alert, supervisors: Sequence[str]) -> list[str]:
    """The therapist; the clinic's supervisors too once escalated (and for critical items)."""
    people = [alert.therapist_id] if alert.therapist_id else []
    if alert.escalated:
        people += [s for s in supervisors if s not in people]
    return people


# ------------------------------------------------------------------------- scoring's events


def _raise(
    event: ResponseScored | ClinicalSignal,
    kind: AlertKind,
    subject: str,
    config: ClinicalConfig,
    therapist_id: str | None,
    *,
    dyad: DyadRef | None,
    instrument: str | None,
    session: int | None,
    severity: Severity | None,
    summary: str,
    evidence: Sequence[RuleEvidence],
) -> Alert | None:
    rule = config.alert_rule(kind.value)
    if not rule.enabled:
        return None
    at = event.occurred_at
    delay = rule.escalate_after_hours
    escalate_at = at + timedelta(hours=delay.value) if delay is not None else None
    alert_id = derived_event_id("alert", kind.value, subject, event.event_id)
    alert = Alert(
        alert_id=alert_id,
        clinic_id=event.clinic_id,
        case_id=event.case_id,
        kind=kind,
        subject=subject,
        dyad=dyad,
        instrument=instrument,
        session_number=session,
        severity=severity,
        priority=AlertPriority(rule.priority),
        status=AlertStatus.OPEN,
        therapist_id=therapist_id,
        escalate_at=escalate_at,
        raised_at=at,
        source_event_id=event.event_id,
        summary=summary,
        evidence=tuple(evidence),
    )
    raised = _by_event(alert, event, AlertAction.RAISED)
    if escalate_at is not None and escalate_at <= at:  # critical items: at once
        raised = _by_event(raised, event, AlertAction.ESCALATED, "escalation", escalated=True)
    return raised


def _series(p: ClinicalSignalPayload) -> str:
    """The outcome series a signal is about (one per instrument and respondent)."""
    series = p.evidence[0].inputs.get("series") if p.evidence else None
    return str(series or p.instrument or "outcome")


def _by_event(
    alert: Alert,
    event: EventEnvelope,
    action: AlertAction,
    key: object = None,
    note: str | None = None,
    **changes: object,
) -> Alert:
    """A transition caused by an event (no user): dated at its time, recorded when its cause
    was."""
    return alert.moved(
        action,
        event.occurred_at,
        event.event_id if key is None else key,
        recorded_at=event.recorded_at,
        actor_id=None,
        note=note,
        **changes,
    )


def _auto_resolve(alert: Alert, event: EventEnvelope, why: str) -> Alert:
    return _by_event(alert, event, AlertAction.AUTO_RESOLVED, status=AlertStatus.RESOLVED, note=why)


def _with_evidence(alert: Alert, signal: ClinicalSignal) -> Alert:
    """The same alert, with the new signal's evidence (no second alert)."""
    return _by_event(
        alert,
        signal,
        AlertAction.UPDATED,
        note=signal.payload.summary,
        evidence=(*alert.evidence, *signal.payload.evidence),
    )


def on_scoring(
    event: ResponseScored | ClinicalSignal,
    active: Mapping[Key, Alert],
    config: ClinicalConfig,
    therapist_id: str | None,
) -> list[Alert]:
    """The alerts this event raises or changes (new states, each with its new transition)."""
    if isinstance(event, ResponseScored):
        return _on_score(event, active, config, therapist_id)
    p = event.payload
    dyad_subject = str(p.dyad.dyad_id) if p.dyad else "case"
    common = {
        "dyad": p.dyad,
        "instrument": p.instrument,
        "session": p.session_number,
        "severity": p.severity,
        "summary": p.summary,
        "evidence": p.evidence,
    }

    def raise_unless_active(kind: AlertKind, subject: str) -> list[Alert]:
        if (kind, subject) in active:
            return []
        alert = _raise(event, kind, subject, config, therapist_id, **common)  # type: ignore[arg-type]
        return [alert] if alert else []

    # In the foundation phase a low alliance is one alert (early_low_alliance) that also
    # carries the rupture's evidence, not two alerts about the same thing.
    rupture = active.get((AlertKind.RUPTURE, dyad_subject)) or active.get(
        (AlertKind.EARLY_LOW_ALLIANCE, dyad_subject)
    )
    match p.kind:
        case SignalKind.RUPTURE_OPENED:
            if rupture is not None:
                return [_with_evidence(rupture, event)]
            return raise_unless_active(AlertKind.RUPTURE, dyad_subject)
        case SignalKind.RUPTURE_ESCALATED:
            if rupture is None:  # its alert was resolved already: a new one, escalated at once
                return [
                    _by_event(
                        a,
                        event,
                        AlertAction.ESCALATED,
                        "escalation",
                        escalated=True,
                        note=p.summary,
                    )
                    for a in raise_unless_active(AlertKind.RUPTURE, dyad_subject)
                ]
            updated = rupture.model_copy(
                update={
                    "severity": Severity.HIGH,
                    "evidence": (*rupture.evidence, *p.evidence),
                    "summary": p.summary,
                }
            )
            return [
                _by_event(updated, event, AlertAction.ESCALATED, escalated=True, note=p.summary)
            ]
        case SignalKind.RUPTURE_REPAIRED:
            return [_auto_resolve(rupture, event, p.summary)] if rupture else []
        case SignalKind.SPLIT_DETECTED:
            pair = p.evidence[0].inputs
            subject = f"{pair['child_dyad_id']}:{pair['parent_dyad_id']}"
            return raise_unless_active(AlertKind.SPLIT_ALLIANCE, subject)
        case SignalKind.DETERIORATED:
            return raise_unless_active(AlertKind.DETERIORATION, _series(p))
        case SignalKind.OFF_TRACK:
            return raise_unless_active(AlertKind.OFF_TRACK, _series(p))
        case SignalKind.CRITICAL_ITEM:
            current = active.get((AlertKind.CRITICAL_ITEM, dyad_subject))
            if current is not None:  # endorsed again: the same alert, with the new evidence
                return [_with_evidence(current, event)]
            return raise_unless_active(AlertKind.CRITICAL_ITEM, dyad_subject)
        case SignalKind.TERMINATION_READY:
            return raise_unless_active(AlertKind.TERMINATION_READINESS, "case")
        case SignalKind.PHASE_CHANGED:
            if not (p.evidence and p.evidence[0].inputs.get("to") == "closed"):
                return []
            # The episode ended: its alerts close with it, except critical items, which stay
            # until someone has followed them up.
            return [
                _auto_resolve(a, event, "episode ended")
                for (kind, _), a in sorted(active.items(), key=lambda kv: str(kv[1].alert_id))
                if kind is not AlertKind.CRITICAL_ITEM
            ]
    return []


def _on_score(
    event: ResponseScored,
    active: Mapping[Key, Alert],
    config: ClinicalConfig,
    therapist_id: str | None,
) -> list[Alert]:
    """Early warning of dropout: a low alliance score in the foundation phase."""
    p = event.payload
    if REGISTRY[p.instrument].construct is not Construct.ALLIANCE:
        return []
    cutoff = config.alliance_cutoffs.get(p.instrument)
    if cutoff is None:
        return []
    key = (AlertKind.EARLY_LOW_ALLIANCE, str(p.dyad.dyad_id))
    current = active.get(key)
    if p.total >= cutoff.value:
        return (
            [
                _auto_resolve(
                    current, event, f"{p.instrument} {p.total:g} back at or above {cutoff.value:g}"
                )
            ]
            if current
            else []
        )
    if current or p.session_number > config.foundation_sessions.value:
        return []
    evidence = RuleEvidence(
        rule="early_low_alliance",
        inputs={
            "total": p.total,
            "session_number": p.session_number,
            "foundation_sessions": config.foundation_sessions.value,
        },
        threshold=cutoff.value,
        citation=f"{cutoff.source}; early alliance (sessions 1-"
        f"{config.foundation_sessions.value:g}) predicts dropout",
    )
    alert = _raise(
        event,
        AlertKind.EARLY_LOW_ALLIANCE,
        key[1],
        config,
        therapist_id,
        dyad=p.dyad,
        instrument=p.instrument,
        session=p.session_number,
        severity=Severity.MODERATE,
        summary=f"{p.instrument} {p.total:g} below {cutoff.value:g} in session "
        f"{p.session_number} (foundation phase): dropout risk",
        evidence=[evidence],
    )
    return [alert] if alert else []


# ------------------------------------------------------------------------- user commands


class CommandRejected(RuleBroken, ValueError):
    """The command does not apply to the alert as it is; the message says why."""


def _by_user(alert: Alert, command: AlertCommand, action: AlertAction, **changes: object) -> Alert:
    c = command.payload
    return alert.moved(
        action,
        command.occurred_at,
        command.event_id,
        recorded_at=command.recorded_at,
        actor_id=c.actor_id,
        note=c.note,
        **changes,
    )


def on_command(alert: Alert, command: AlertCommand) -> Alert:
    c = command.payload
    if not alert.is_active:
        raise CommandRejected(f"alert {alert.alert_id} is already resolved")
    match c.action:
        case AlertCommandAction.ACKNOWLEDGE:
            if alert.status is AlertStatus.ACKNOWLEDGED:
                raise CommandRejected("alert is already acknowledged")
            return _by_user(
                alert, command, AlertAction.ACKNOWLEDGED, status=AlertStatus.ACKNOWLEDGED
            )
        case AlertCommandAction.RESOLVE:
            if not c.note:
                raise CommandRejected("note: a resolution needs a note")
            return _by_user(alert, command, AlertAction.RESOLVED, status=AlertStatus.RESOLVED)
        case AlertCommandAction.SNOOZE:
            if c.snooze_until is None or c.snooze_until <= command.occurred_at:
                raise CommandRejected("snooze_until: must be after the command's time")
            escalate_at = alert.escalate_at and max(alert.escalate_at, c.snooze_until)
            return _by_user(
                alert,
                command,
                AlertAction.SNOOZED,
                snoozed_until=c.snooze_until,
                escalate_at=escalate_at,
            )
        case AlertCommandAction.REASSIGN:
            if not c.assignee_id:
                raise CommandRejected("assignee_id: required to reassign")
            return _by_user(alert, command, AlertAction.REASSIGNED, therapist_id=c.assignee_id)
    raise CommandRejected(f"unknown action {c.action}")


def on_assignment(alert: Alert, event: CaseAssigned) -> Alert | None:
    """A case assigned or transferred to another therapist takes its active alerts along."""
    therapist = event.payload.therapist_id
    if not alert.is_active or alert.therapist_id == therapist:
        return None
    why = "case transferred" if event.payload.transfer else "case assigned"
    return _by_event(alert, event, AlertAction.REASSIGNED, therapist_id=therapist, note=why)


# ------------------------------------------------------------------------- escalation


def escalation_due(alert: Alert, now: datetime) -> Alert | None:
    """Escalates an open (unacknowledged) alert whose time has come. The transition is dated at
    its due time, not at `now`: an escalation missed while the service was down fires once when
    it comes back, and a replay dates it the same."""
    due = alert.escalate_at
    if alert.status is not AlertStatus.OPEN or alert.escalated or due is None or due > now:
        return None
    return alert.moved(
        AlertAction.ESCALATED,
        due,
        "escalation",
        escalated=True,
        note="not acknowledged in time: escalated to the clinic's supervisors",
    )
