"""When scoring withdraws signals, a case's alerts are brought back in line with the signals that
still hold. Pure.

Scoring folds a case again after a late, amended or voided response, withdraws the signals that
no longer hold and publishes the new ones. The alerts those signals imply are what `on_scoring`
makes of the live signals in clinical order (`implied`); `reconcile` then moves the case's alerts
there:
- an active alert nothing implies any more resolves itself, saying why (the source response was
  amended or voided, or a late response changed the picture);
- an implied alert that is not active is raised: with its own id when it never was, or as a new
  alert when its earlier self was resolved by the system (a repair that no longer holds). One
  a person resolved stays resolved: they followed it up.
- an alert both active and implied keeps its state (acknowledged, snoozed, reassigned), and is
  escalated when the implied one is (a rupture that went unresolved); an early-low-alliance alert
  takes the conditions it stands for from the implied one (a joined rupture withdrawn or
  arrived late), so it resolves when the live signals say.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from alliance_alerts.domain.rules.alert import Alert, Cause, Key
from alliance_alerts.domain.rules.signals import on_scoring
from alliance_contracts.clinical_config import ClinicalConfig
from alliance_contracts.events import ClinicalSignal, derived_event_id
from alliance_contracts.vocabulary import AlertAction, AlertStatus


def clinical_order(signals: Sequence[ClinicalSignal]) -> list[ClinicalSignal]:
    """Signals in the order of the case events they came from (stable within one event)."""
    return sorted(signals, key=lambda s: s.occurred_at)


def implied(
    live: Sequence[ClinicalSignal],
    config_of: Callable[[ClinicalSignal], ClinicalConfig],
    therapist_id: str | None,
) -> dict[Key, Alert]:
    """The active alerts the live signals imply, folded in clinical order."""
    active: dict[Key, Alert] = {}
    for signal in clinical_order(live):
        for alert in on_scoring(signal, active, config_of(signal), therapist_id):
            if alert.is_active:
                active[(alert.kind, alert.subject)] = alert
            else:
                active.pop((alert.kind, alert.subject), None)
    return active


def reconcile(
    active: Mapping[Key, Alert],
    implied: Mapping[Key, Alert],
    known: Mapping[uuid.UUID, Alert],
    cause: Cause,
    why: str,
) -> list[Alert]:
    """The alerts that change: `active` are the case's active alerts, `known` every alert of
    the case by id (resolved ones too), `cause` what made scoring judge the case again (its
    first withdrawal, or its first signal out of order) and `why` in words."""
    changed = [
        alert.auto_resolved(replace(cause, note=f"no longer holds: {why}"))
        for key, alert in sorted(active.items(), key=lambda kv: str(kv[1].alert_id))
        if key not in implied
    ]
    for key, alert in sorted(implied.items(), key=lambda kv: str(kv[1].alert_id)):
        if key in active:
            current = moved = active[key]
            if alert.escalated and not current.escalated:  # e.g. its rupture went unresolved
                moved = moved.escalated_to_supervisors(
                    replace(cause, note=f"escalated: {why}"),
                    severity=alert.severity,
                    summary=alert.summary,
                    evidence=[e for e in alert.evidence if e not in current.evidence],
                )
            conditions = _conditions(alert)
            if conditions != _conditions(moved):  # e.g. the rupture it carried no longer holds
                note = ", ".join(
                    f"{k.removesuffix('_open').replace('_', ' ')} {'open' if v else 'closed'}"
                    for k, v in conditions.items()
                )
                moved = moved.updated(replace(cause, note=f"{note}: {why}"), (), **conditions)
            if moved is not current:
                changed.append(moved)
            continue
        earlier = known.get(alert.alert_id)
        if earlier is None:
            changed.append(alert)
        elif _resolved_by(earlier) is AlertAction.AUTO_RESOLVED:
            again = alert.model_copy(
                update={
                    "alert_id": derived_event_id("alert-again", alert.alert_id, cause.key),
                    "status": AlertStatus.OPEN,
                    "history": (),
                }
            )
            changed.append(again.raised(replace(cause, note=f"holds again: {why}")))
    return changed


def _conditions(alert: Alert) -> dict[str, bool]:
    """What an early-low-alliance alert still stands for (signals.py)."""
    return {"low_alliance_open": alert.low_alliance_open, "rupture_open": alert.rupture_open}


def _resolved_by(alert: Alert) -> AlertAction | None:
    """How the alert was resolved: its last resolution (a recorded escalation dated later, whose
    decision overtook the resolution, may follow it in the history)."""
    ends = (AlertAction.RESOLVED, AlertAction.AUTO_RESOLVED)
    return next((t.action for t in reversed(alert.history) if t.action in ends), None)
