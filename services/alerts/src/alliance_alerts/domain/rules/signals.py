"""Scoring's signals raise, update or resolve alerts: `on_scoring`. Pure.

Alerts judge nothing clinical themselves: every alert follows a signal of scoring's (so an alert
can never hold for something scoring does not say holds). A signal names what it is about in
typed fields (dyad, series, split, phase change), so the mapping below reads no evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta

from alliance_alerts.domain.rules.alert import Alert, Cause, Key
from alliance_contracts.clinical_config import ClinicalConfig
from alliance_contracts.events import (
    ClinicalSignal,
    ClinicalSignalPayload,
    DyadRef,
    RuleEvidence,
    ScoringOutput,
    derived_event_id,
)
from alliance_contracts.vocabulary import (
    AlertKind,
    AlertPriority,
    AlertStatus,
    Phase,
    Severity,
    SignalKind,
)


def _raise(
    event: ClinicalSignal,
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
        low_alliance_open=kind is AlertKind.EARLY_LOW_ALLIANCE,
    )
    raised = alert.raised(Cause.of_event(event))
    if escalate_at is not None and escalate_at <= at:  # critical items: at once
        raised = raised.escalated_to_supervisors(Cause.of_event(event, key="escalation"))
    return raised


def _series(p: ClinicalSignalPayload) -> str:
    """The outcome series a signal is about (one per instrument and respondent)."""
    return p.series or p.instrument or "outcome"


def on_scoring(
    event: ScoringOutput,
    active: Mapping[Key, Alert],
    config: ClinicalConfig,
    therapist_id: str | None,
) -> list[Alert]:
    """The alerts this event raises or changes (new states, each with its new transition)."""
    if not isinstance(event, ClinicalSignal):
        return []  # scores and withdrawals raise nothing themselves (reconcile.py)
    p = event.payload
    dyad_subject = str(p.dyad.dyad_id) if p.dyad else "case"

    def raise_unless_active(kind: AlertKind, subject: str) -> list[Alert]:
        if (kind, subject) in active:
            return []
        alert = _raise(
            event,
            kind,
            subject,
            config,
            therapist_id,
            dyad=p.dyad,
            instrument=p.instrument,
            session=p.session_number,
            severity=p.severity,
            summary=p.summary,
            evidence=p.evidence,
        )
        return [alert] if alert else []

    # In the foundation phase a low alliance is one alert (early_low_alliance) that also
    # carries the rupture's evidence, not two alerts about the same thing. It then stands for
    # both and resolves by itself only when the score has cleared and the rupture is repaired:
    # an open rupture is never left without an active alert (nor a low alliance).
    early = active.get((AlertKind.EARLY_LOW_ALLIANCE, dyad_subject))
    rupture = active.get((AlertKind.RUPTURE, dyad_subject)) or early
    joined = {"rupture_open": True} if early is not None and rupture is early else {}
    by = Cause.of_event(event, note=p.summary)
    match p.kind:
        case SignalKind.RUPTURE_OPENED:
            if rupture is not None:
                return [rupture.updated(by, p.evidence, **joined)]
            return raise_unless_active(AlertKind.RUPTURE, dyad_subject)
        case SignalKind.RUPTURE_ESCALATED:
            if rupture is None:  # its alert was resolved already: a new one, escalated at once
                at_once = Cause.of_event(event, note=p.summary, key="escalation")
                return [
                    a.escalated_to_supervisors(at_once)
                    for a in raise_unless_active(AlertKind.RUPTURE, dyad_subject)
                ]
            return [
                rupture.escalated_to_supervisors(
                    by, severity=Severity.HIGH, summary=p.summary, evidence=p.evidence, **joined
                )
            ]
        case SignalKind.RUPTURE_REPAIRED:
            if rupture is None:
                return []
            if rupture is early and early.low_alliance_open:
                still_low = replace(
                    by, note=f"{p.summary}; the alliance is still below its cut-off"
                )
                return [early.updated(still_low, p.evidence, rupture_open=False)]
            return [rupture.auto_resolved(by)]
        case SignalKind.SPLIT_DETECTED:
            if p.split is None:
                return []
            subject = f"{p.split.child_dyad_id}:{p.split.parent_dyad_id}"
            return raise_unless_active(AlertKind.SPLIT_ALLIANCE, subject)
        case SignalKind.DETERIORATED:
            return raise_unless_active(AlertKind.DETERIORATION, _series(p))
        case SignalKind.OFF_TRACK:
            return raise_unless_active(AlertKind.OFF_TRACK, _series(p))
        case SignalKind.CRITICAL_ITEM:
            current = active.get((AlertKind.CRITICAL_ITEM, dyad_subject))
            if current is not None:  # endorsed again: the same alert, with the new evidence
                return [current.updated(by, p.evidence)]
            return raise_unless_active(AlertKind.CRITICAL_ITEM, dyad_subject)
        case SignalKind.EARLY_LOW_ALLIANCE:
            if early is not None and not early.low_alliance_open:  # low again, rupture open
                return [early.updated(by, p.evidence, low_alliance_open=True)]
            return raise_unless_active(AlertKind.EARLY_LOW_ALLIANCE, dyad_subject)
        case SignalKind.EARLY_LOW_ALLIANCE_CLEARED:
            if early is None:
                return []
            if early.rupture_open:
                open_rupture = replace(
                    by, note=f"{p.summary}; the rupture stays open until repaired"
                )
                return [early.updated(open_rupture, p.evidence, low_alliance_open=False)]
            return [early.auto_resolved(by)]
        case SignalKind.TERMINATION_READY:
            return raise_unless_active(AlertKind.TERMINATION_READINESS, "case")
        case SignalKind.PHASE_CHANGED:
            if p.phase_change is None or p.phase_change.to_phase is not Phase.CLOSED:
                return []
            # The episode ended: its alerts close with it, except critical items, which stay
            # until someone has followed them up.
            ended = Cause.of_event(event, note="episode ended")
            return [
                a.auto_resolved(ended)
                for (kind, _), a in sorted(active.items(), key=lambda kv: str(kv[1].alert_id))
                if kind is not AlertKind.CRITICAL_ITEM
            ]
    return []
