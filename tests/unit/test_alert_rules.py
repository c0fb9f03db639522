"""Alert rules, lifecycle and escalation, pure, on a fake clock. Signals come from the real
clinical fold (tests/unit/clinical.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

import pytest

from alliance_alerts.domain.rules import (
    Alert,
    Cause,
    CommandRejected,
    Key,
    TransitionRefused,
    escalation_due,
    implied,
    notice,
    on_assignment,
    on_clock,
    on_command,
    on_scoring,
    recipients,
    reconcile,
)
from alliance_contracts.clinical_config import DEFAULT_CONFIG, AlertRule, ClinicalConfig
from alliance_contracts.events import (
    AlertCommand,
    AlertCommandPayload,
    CaseAssigned,
    CaseAssignedPayload,
    CaseInput,
    ClinicalSignal,
    ResponseSubmitted,
    ScoringOutput,
)
from alliance_contracts.vocabulary import (
    AlertAction,
    AlertCommandAction,
    AlertKind,
    AlertPriority,
    AlertStatus,
    SignalKind,
)
from alliance_scoring.domain.dyads import score
from tests.unit.clinical import T0, ended, fold, ors, response, srs_series


def outputs(
    events: Sequence[CaseInput], config: ClinicalConfig = DEFAULT_CONFIG
) -> list[ScoringOutput]:
    """What scoring publishes for these events, in order: each score, then its signals."""
    run = fold(events, config)
    published: list[ScoringOutput] = []
    for event in events:
        if isinstance(event, ResponseSubmitted):
            published.append(score(event, event.recorded_at))
        published.extend(s for s in run.signals if s.payload.source_event_id == event.event_id)
    return published


def run_alerts(
    events: Sequence[ScoringOutput], config: ClinicalConfig = DEFAULT_CONFIG
) -> tuple[dict[Key, Alert], list[Alert]]:
    active: dict[Key, Alert] = {}
    changes: list[Alert] = []
    for event in events:
        for alert in on_scoring(event, active, config, "th-1"):
            changes.append(alert)
            if alert.is_active:
                active[(alert.kind, alert.subject)] = alert
            else:
                active.pop((alert.kind, alert.subject), None)
    return active, changes


def command(alert: Alert, action: str, at_hours: float, **kw: object) -> AlertCommand:
    at = alert.raised_at + timedelta(hours=at_hours)
    return AlertCommand(
        event_id=uuid.uuid4(),
        clinic_id=alert.clinic_id,
        case_id=alert.case_id,
        occurred_at=at,
        recorded_at=at,
        payload=AlertCommandPayload(
            alert_id=alert.alert_id, action=AlertCommandAction(action), actor_id="th-1", **kw
        ),
    )


def test_a_rupture_raises_one_alert_routed_to_the_therapist() -> None:
    active, changes = run_alerts(outputs(srs_series("c1", [38, 38, 38, 38, 38, 38, 30, 30])))
    [alert] = active.values()
    assert alert.kind is AlertKind.RUPTURE
    assert alert.priority is AlertPriority.URGENT
    assert alert.therapist_id == "th-1"
    assert alert.escalate_at == alert.raised_at + timedelta(hours=72)
    assert [t.action for t in alert.history] == [AlertAction.RAISED]
    assert {e.rule for e in alert.evidence} == {
        "below_cutoff",
        "drop_from_previous",
        "reliable_drop",
    }
    note = notice(alert, recipients(alert, ["sup-1"]))
    assert note.payload.recipients == ["th-1"]  # supervisors only once escalated
    assert note.event_id == alert.history[-1].event_id
    assert len([c for c in changes if c.kind is AlertKind.RUPTURE]) == 1


def test_in_the_foundation_phase_a_rupture_is_part_of_the_early_warning() -> None:
    active, _ = run_alerts(outputs(srs_series("c1", [38, 38, 30])))
    [alert] = active.values()
    assert alert.kind is AlertKind.EARLY_LOW_ALLIANCE
    assert [t.action for t in alert.history] == [AlertAction.RAISED, AlertAction.UPDATED]
    assert {e.rule for e in alert.evidence} == {
        "early_low_alliance",
        "below_cutoff",
        "drop_from_previous",
    }


def test_a_joined_rupture_keeps_the_early_warning_active_until_it_is_repaired() -> None:
    """Back at or above the cut-off (37 >= 36) but below the pre-rupture level (38): the
    rupture is still open, so its alert is too, until the repair."""
    events = srs_series("c1", [38, 38, 30, 37, 38])
    active, _ = run_alerts(outputs(events[:4]))
    [alert] = active.values()
    assert alert.kind is AlertKind.EARLY_LOW_ALLIANCE
    assert alert.status is AlertStatus.OPEN
    assert (alert.low_alliance_open, alert.rupture_open) == (False, True)
    assert [t.action for t in alert.history] == [
        AlertAction.RAISED,
        AlertAction.UPDATED,
        AlertAction.UPDATED,
    ]
    assert alert.history[-1].note == (
        "SRS 36.8 back at or above 36; the rupture stays open until repaired"
    )
    repaired, changes = run_alerts(outputs(events))
    assert repaired == {}
    assert changes[-1].alert_id == alert.alert_id
    assert changes[-1].history[-1].action is AlertAction.AUTO_RESOLVED
    assert changes[-1].history[-1].note == "SRS rupture of session 3 repaired at session 5"


def test_a_low_score_again_while_the_joined_rupture_is_open_reopens_the_low_alliance() -> None:
    active, _ = run_alerts(outputs(srs_series("c1", [38, 38, 30, 37, 30])))
    [alert] = active.values()
    assert (alert.low_alliance_open, alert.rupture_open) == (True, True)
    assert alert.history[-1].action is AlertAction.UPDATED


def test_a_repaired_rupture_below_the_cut_off_keeps_the_early_warning_active() -> None:
    """The mirror: without `below_cutoff` a rupture can open (and be repaired) below the
    cut-off; the low alliance still holds, so the alert stays until the score clears."""
    config = DEFAULT_CONFIG.model_copy(update={"rules_enabled": {"below_cutoff": False}})
    events = srs_series("c1", [30, 25, 30, 37])
    active, _ = run_alerts(outputs(events[:3], config), config)
    [alert] = active.values()
    assert alert.kind is AlertKind.EARLY_LOW_ALLIANCE
    assert (alert.low_alliance_open, alert.rupture_open) == (True, False)
    assert alert.history[-1].note == (
        "SRS rupture of session 2 repaired at session 3; the alliance is still below its cut-off"
    )
    cleared, changes = run_alerts(outputs(events, config), config)
    assert cleared == {}
    assert changes[-1].alert_id == alert.alert_id
    assert changes[-1].history[-1].action is AlertAction.AUTO_RESOLVED


def test_reconciling_takes_the_conditions_an_early_warning_stands_for_from_the_live_signals() -> (
    None
):
    """A joined rupture withdrawn (its response amended): the alert no longer waits for a
    repair, so the cleared score that follows resolves it."""
    published = outputs(srs_series("c1", [38, 38, 30]))
    active, _ = run_alerts(published)
    [alert] = active.values()
    assert alert.rupture_open
    live = [
        e
        for e in published
        if isinstance(e, ClinicalSignal) and e.payload.kind is not SignalKind.RUPTURE_OPENED
    ]
    now = implied(live, lambda s: DEFAULT_CONFIG, "th-1")
    withdrawal = Cause(at=alert.raised_at, key="withdrawal")
    [updated] = reconcile(active, now, {}, withdrawal, "response amended")
    assert updated.alert_id == alert.alert_id
    assert (updated.low_alliance_open, updated.rupture_open) == (True, False)
    assert updated.history[-1].action is AlertAction.UPDATED
    assert updated.history[-1].note == "low alliance open, rupture closed: response amended"
    assert reconcile({k: updated for k in active}, now, {}, withdrawal, "again") == []


def test_a_repaired_rupture_resolves_its_alert_by_itself() -> None:
    series = [38, 38, 38, 38, 38, 38, 30, 34, 38]
    active, changes = run_alerts(outputs(srs_series("c1", series)))
    rupture = [c for c in changes if c.kind is AlertKind.RUPTURE][-1]
    assert rupture.status is AlertStatus.RESOLVED
    assert rupture.history[-1].action is AlertAction.AUTO_RESOLVED
    assert (AlertKind.RUPTURE, rupture.subject) not in active


def test_an_unresolved_rupture_escalates_its_alert() -> None:
    series = [38, 38, 38, 38, 38, 38, 30, 30, 30, 30, 30, 30, 30]
    active, _ = run_alerts(outputs(srs_series("c1", series)))
    alert = active[(AlertKind.RUPTURE, next(k[1] for k in active if k[0] is AlertKind.RUPTURE))]
    assert alert.escalated
    assert alert.severity == "high"
    assert [t.action for t in alert.history] == [AlertAction.RAISED, AlertAction.ESCALATED]
    assert recipients(alert, ["sup-1"]) == ["th-1", "sup-1"]


def test_critical_items_are_same_day_and_go_to_supervisors_at_once() -> None:
    answers: dict[int, float | None] = dict.fromkeys(range(1, 46), 0.0)
    answers[11] = 1
    active, _ = run_alerts(outputs([response("c1", 1, "OQ-45.2", 0, answers=answers)]))
    alert = active[(AlertKind.CRITICAL_ITEM, next(k[1] for k in active))]
    assert alert.priority is AlertPriority.SAME_DAY
    assert alert.escalated
    assert [t.action for t in alert.history] == [AlertAction.RAISED, AlertAction.ESCALATED]


def test_early_low_alliance_in_the_foundation_phase_only_and_it_clears() -> None:
    early, _ = run_alerts(outputs(srs_series("c1", [34.4])))
    assert AlertKind.EARLY_LOW_ALLIANCE in {k[0] for k in early}
    late, _ = run_alerts(outputs(srs_series("c1", [38, 38, 38, 38, 38, 34.4])))
    assert AlertKind.EARLY_LOW_ALLIANCE not in {k[0] for k in late}
    cleared, _ = run_alerts(outputs(srs_series("c1", [34.4, 37.2])))
    assert AlertKind.EARLY_LOW_ALLIANCE not in {k[0] for k in cleared}


def test_outcome_split_and_readiness_alerts_and_readiness_clears_at_the_ending() -> None:
    events = [
        ors("c1", 1, 18),
        *srs_series("c1", [38]),
        ors("c1", 2, 24),
        ors("c1", 3, 28),
        ors("c1", 4, 30),
    ]
    active, _ = run_alerts(outputs(events))
    assert (AlertKind.TERMINATION_READINESS, "case") in active
    assert active[(AlertKind.TERMINATION_READINESS, "case")].priority is AlertPriority.ROUTINE
    after, _ = run_alerts(outputs([*events, ended("c1", "planned", 4)]))
    assert (AlertKind.TERMINATION_READINESS, "case") not in after
    worse, _ = run_alerts(outputs([ors("c2", 1, 20), ors("c2", 2, 14.8)]))
    assert (AlertKind.DETERIORATION, "ORS:client") in worse  # one per outcome series


def test_a_kind_switched_off_raises_nothing() -> None:
    config = DEFAULT_CONFIG.model_copy(
        update={"alert_rules": {**DEFAULT_CONFIG.alert_rules, "rupture": AlertRule(enabled=False)}}
    )
    series = [38, 38, 38, 38, 38, 38, 30]
    active, _ = run_alerts(outputs(srs_series("c1", series)), config)
    assert AlertKind.RUPTURE not in {k[0] for k in active}


def rupture_alert() -> Alert:
    active, _ = run_alerts(outputs(srs_series("c1", [38, 38, 38, 38, 38, 38, 30])))
    return next(a for a in active.values() if a.kind is AlertKind.RUPTURE)


def test_lifecycle_acknowledge_snooze_reassign_resolve() -> None:
    alert = rupture_alert()
    acked = on_command(alert, command(alert, "acknowledge", 1))
    assert acked.status is AlertStatus.ACKNOWLEDGED
    with pytest.raises(CommandRejected, match="already acknowledged"):
        on_command(acked, command(alert, "acknowledge", 2))
    snoozed = on_command(
        acked, command(alert, "snooze", 2, snooze_until=alert.raised_at + timedelta(days=7))
    )
    assert snoozed.snoozed_until == alert.raised_at + timedelta(days=7)
    moved = on_command(snoozed, command(alert, "reassign", 3, assignee_id="th-2"))
    assert moved.therapist_id == "th-2"
    with pytest.raises(CommandRejected, match="note"):
        on_command(moved, command(alert, "resolve", 4))
    resolved = on_command(moved, command(alert, "resolve", 4, note="talked it through"))
    assert resolved.status is AlertStatus.RESOLVED
    assert [t.action for t in resolved.history] == [
        AlertAction.RAISED,
        AlertAction.ACKNOWLEDGED,
        AlertAction.SNOOZED,
        AlertAction.REASSIGNED,
        AlertAction.RESOLVED,
    ]
    assert resolved.history[-1].note == "talked it through"
    with pytest.raises(CommandRejected, match="already resolved"):
        on_command(resolved, command(alert, "acknowledge", 5))


def test_escalation_on_a_fake_clock_once_and_dated_at_its_due_time() -> None:
    alert = rupture_alert()
    due = alert.escalate_at
    assert due is not None
    assert escalation_due(alert, due - timedelta(seconds=1)) is None
    decided = escalation_due(alert, due + timedelta(days=30))  # the service was down a month
    assert decided is not None
    assert (decided.occurred_at, decided.payload.due_at) == (due, due)
    assert alert.escalated is False  # deciding changes nothing: the recorded event does
    escalated = on_clock(alert, decided)
    assert escalated is not None
    assert escalated.escalated
    assert escalated.history[-1].at == due
    assert escalation_due(escalated, due + timedelta(days=31)) is None  # exactly once
    again = escalation_due(alert, due + timedelta(days=2))
    assert again is not None and again.event_id == decided.event_id  # noqa: PT018
    assert on_clock(escalated, again) is None  # recorded twice: applied once


def test_a_recorded_escalation_is_a_fact_placed_at_its_time() -> None:
    """In a replay the acknowledgement that came after the escalation may be applied first: the
    escalation is kept, before it in the history, with the status the alert had then."""
    alert = rupture_alert()
    due = alert.escalate_at
    assert due is not None
    decided = escalation_due(alert, due)
    assert decided is not None
    acknowledge = command(alert, "acknowledge", 80)  # after the due time (72 h)
    escalated = on_clock(alert, decided)
    assert escalated is not None
    live = on_command(escalated, acknowledge)
    replayed = on_clock(on_command(alert, acknowledge), decided)
    assert replayed == live
    assert [(t.action, t.status) for t in live.history] == [
        (AlertAction.RAISED, AlertStatus.OPEN),
        (AlertAction.ESCALATED, AlertStatus.OPEN),
        (AlertAction.ACKNOWLEDGED, AlertStatus.ACKNOWLEDGED),
    ]
    resolved = on_command(alert, command(alert, "resolve", 90, note="seen"))
    kept = on_clock(resolved, decided)  # a resolved alert keeps the escalation it had
    assert kept is not None
    assert (kept.status, kept.escalated) == (AlertStatus.RESOLVED, True)
    assert [t.action for t in kept.history] == [
        AlertAction.RAISED,
        AlertAction.ESCALATED,
        AlertAction.RESOLVED,
    ]


def test_acknowledged_alerts_do_not_escalate_and_snooze_defers_it() -> None:
    alert = rupture_alert()
    assert alert.escalate_at is not None
    acked = on_command(alert, command(alert, "acknowledge", 1))
    assert escalation_due(acked, alert.escalate_at + timedelta(days=1)) is None
    until = alert.escalate_at + timedelta(days=2)
    snoozed = on_command(alert, command(alert, "snooze", 1, snooze_until=until))
    assert escalation_due(snoozed, alert.escalate_at + timedelta(days=1)) is None
    assert escalation_due(snoozed, until) is not None


def test_same_inputs_same_alert_ids() -> None:
    events = outputs(srs_series("c1", [38, 38, 38, 38, 38, 38, 30]))
    assert run_alerts(events)[0] == run_alerts(events)[0]
    assert rupture_alert().raised_at > T0


def assignment(alert: Alert, therapist_id: str, *, transfer: bool) -> CaseAssigned:
    at = alert.raised_at + timedelta(hours=1)
    return CaseAssigned(
        event_id=uuid.uuid4(),
        clinic_id=alert.clinic_id,
        case_id=alert.case_id,
        occurred_at=at,
        recorded_at=at,
        payload=CaseAssignedPayload(therapist_id=therapist_id, transfer=transfer),
    )


def test_a_transfer_hands_active_alerts_over_to_the_new_therapist() -> None:
    alert = rupture_alert()
    transfer = assignment(alert, "th-2", transfer=True)
    moved = on_assignment(alert, transfer)
    assert moved is not None
    assert moved.therapist_id == "th-2"
    assert moved.history[-1].action is AlertAction.HANDED_OVER
    assert moved.history[-1].note == "case transferred from th-1"
    assert moved.status is alert.status
    assert on_assignment(moved, transfer) is None


def test_a_handover_notice_goes_to_the_new_therapist_with_the_history_and_evidence() -> None:
    """The open rupture of a foundation-phase dyad (joined to its early warning, the score
    cleared): the new therapist learns of it, with how it came about."""
    active, _ = run_alerts(outputs(srs_series("c1", [38, 38, 30, 37])))
    [alert] = active.values()
    acked = on_command(alert, command(alert, "acknowledge", 0.5))
    moved = on_assignment(acked, assignment(alert, "th-2", transfer=False))
    assert moved is not None
    handover = notice(moved, recipients(moved, ["sup-1"])).payload
    assert handover.action is AlertAction.HANDED_OVER
    assert handover.recipients == ["th-2"]
    assert handover.status is AlertStatus.ACKNOWLEDGED
    assert handover.note == "case assigned from th-1"
    assert [h.action for h in handover.history] == [
        AlertAction.RAISED,
        AlertAction.UPDATED,
        AlertAction.UPDATED,
        AlertAction.ACKNOWLEDGED,
        AlertAction.HANDED_OVER,
    ]
    assert [h.model_dump() for h in handover.history] == [
        t.model_dump(exclude={"event_id", "recorded_at"}) for t in moved.history
    ]
    assert handover.evidence == list(alert.evidence)
    assert {e.rule for e in handover.evidence} >= {"early_low_alliance", "drop_from_previous"}
    assert notice(acked, ["th-1"]).payload.history == []  # other notices carry none


def test_an_ended_episode_closes_its_alerts_but_not_critical_items() -> None:
    answers: dict[int, float | None] = dict.fromkeys(range(1, 46), 0.0)
    answers[8] = 2
    events = [
        *srs_series("c1", [38, 30]),
        response("c1", 2, "OQ-45.2", 0, answers=answers),
        ended("c1", "unilateral", 2),
    ]
    active, _ = run_alerts(outputs(events))
    assert {k[0] for k in active} == {AlertKind.CRITICAL_ITEM}


def test_a_critical_item_endorsed_again_updates_its_alert() -> None:
    answers: dict[int, float | None] = dict.fromkeys(range(1, 46), 0.0)
    answers[8] = 2
    events = [response("c1", s, "OQ-45.2", 0, answers=answers) for s in (1, 2)]
    active, _ = run_alerts(outputs(events))
    [alert] = active.values()
    assert [t.action for t in alert.history] == [
        AlertAction.RAISED,
        AlertAction.ESCALATED,
        AlertAction.UPDATED,
    ]
    assert len(alert.evidence) == 2


def test_a_transition_with_a_misspelt_or_mistyped_change_fails() -> None:
    import pydantic

    active, _ = run_alerts(outputs(srs_series("c-typo", [38] * 6 + [30])))
    alert = next(iter(active.values()))
    by = Cause(at=alert.raised_at, key="k")
    misspelt: dict[str, object] = {"statuss": AlertStatus.ACKNOWLEDGED}
    with pytest.raises(TypeError):
        alert.acknowledged(by, **misspelt)
    with pytest.raises(pydantic.ValidationError):
        alert.escalated_to_supervisors(by, severity="not a severity")  # type: ignore[arg-type]
    with pytest.raises(pydantic.ValidationError):
        alert.reassigned(by, 42)  # type: ignore[arg-type]


def test_a_transition_that_does_not_apply_is_refused() -> None:
    alert = rupture_alert()
    at = alert.raised_at + timedelta(hours=1)
    resolved = alert.auto_resolved(Cause(at=at, key="k", note="cleared"))
    with pytest.raises(TransitionRefused, match="already resolved"):
        resolved.escalated_to_supervisors(Cause(at=at, key="e"))
    with pytest.raises(TransitionRefused, match="raised already"):
        alert.raised(Cause(at=at, key="again"))
    with pytest.raises(TransitionRefused, match="snooze_until"):
        alert.snoozed(Cause(at=at, key="s"), at)
