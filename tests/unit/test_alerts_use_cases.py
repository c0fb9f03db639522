"""The alerts service's handlers on an in-memory unit of work: alerts raised, moved and
escalated, with one notice per transition in the outbox, exactly once per event (the rules
themselves: test_alert_rules.py)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from alliance_alerts.adapters.secret_box import SecretBox
from alliance_alerts.application.delivery import enqueue_deliveries, rotate_secret
from alliance_alerts.application.handlers import (
    apply_clinic_events,
    apply_clock,
    apply_commands,
    apply_scoring,
    escalate_due,
)
from alliance_alerts.domain.rules import Alert, CommandRejected
from alliance_alerts.domain.webhooks import DeliveryPolicy, RotationInProgress
from alliance_contracts.events import (
    CLINIC_LEVEL_CASE_ID,
    AlertNotice,
    CaseAssigned,
    CaseAssignedPayload,
    EscalationDue,
    ScoringOutput,
    StaffChanged,
    StaffChangedPayload,
)
from alliance_contracts.topics import ALERT_CLOCK, NOTICES
from alliance_contracts.vocabulary import AlertAction, AlertKind, AlertStatus, StaffRole
from tests.unit.clinical import srs_series
from tests.unit.fakes.alerts import FakeAlertsUnitOfWork
from tests.unit.test_alert_rules import command, outputs

RUPTURE = [38, 38, 38, 38, 38, 38, 30]
BOX = SecretBox.parse("k1:" + base64.b64encode(bytes(range(32))).decode())


def scoring_outputs() -> list[ScoringOutput]:
    return outputs(srs_series("case-1", RUPTURE))


def notices(uow: FakeAlertsUnitOfWork) -> list[AlertNotice]:
    assert all(m.topic in (NOTICES, ALERT_CLOCK) for m in uow.outbox.messages)
    found = [m.event for m in uow.outbox.messages if m.topic == NOTICES]
    assert all(isinstance(n, AlertNotice) for n in found)
    return found  # type: ignore[return-value]


def clock_events(uow: FakeAlertsUnitOfWork) -> list[EscalationDue]:
    """What the clock recorded (for the alert-clock topic), in order."""
    found = [m.event for m in uow.outbox.messages if m.topic == ALERT_CLOCK]
    assert all(isinstance(e, EscalationDue) for e in found)
    return found  # type: ignore[return-value]


def only_alert(uow: FakeAlertsUnitOfWork) -> Alert:
    [alert] = uow.alerts.by_alert_id.values()
    return alert


def staff_changed(at: datetime, staff_id: str, role: StaffRole) -> StaffChanged:
    return StaffChanged(
        event_id=uuid.uuid4(),
        clinic_id="clinic-a",
        case_id=CLINIC_LEVEL_CASE_ID,
        occurred_at=at,
        recorded_at=at,
        payload=StaffChangedPayload(staff_id=staff_id, role=role),
    )


async def raised(events: list[ScoringOutput] | None = None) -> FakeAlertsUnitOfWork:
    """A store with one open rupture alert."""
    uow = FakeAlertsUnitOfWork()
    await apply_scoring(uow, events or scoring_outputs())
    return uow


async def test_a_signal_raises_an_alert_and_enqueues_its_notice() -> None:
    uow = FakeAlertsUnitOfWork()
    events = scoring_outputs()
    assert await apply_scoring(uow, events) == 1
    alert = only_alert(uow)
    assert (alert.kind, alert.status, alert.therapist_id) == (
        AlertKind.RUPTURE,
        AlertStatus.OPEN,
        "th-1",  # the therapist last seen rating the case
    )
    assert uow.routing.assigned[("clinic-a", "case-1")] == ("th-1", False)
    [note] = notices(uow)
    assert note.event_id == alert.history[-1].event_id
    assert note.payload.recipients == ["th-1"]
    assert (uow.transactions, uow.commits) == (1, 1)
    # Redelivered: nothing changes, nothing is enqueued again.
    assert await apply_scoring(uow, events) == 0
    assert len(uow.outbox.messages) == 1
    assert only_alert(uow) == alert


async def test_a_command_moves_the_alert_and_enqueues_a_notice() -> None:
    uow = await raised()
    alert = only_alert(uow)
    acknowledge = command(alert, "acknowledge", 1)
    assert await apply_commands(uow, [acknowledge]) == 1
    acked = only_alert(uow)
    assert acked.status is AlertStatus.ACKNOWLEDGED
    assert notices(uow)[-1].event_id == acked.history[-1].event_id
    assert await apply_commands(uow, [acknowledge]) == 0  # redelivered
    assert len(uow.outbox.messages) == 2


async def test_a_command_that_does_not_apply_changes_nothing() -> None:
    uow = await raised()
    alert = only_alert(uow)
    await apply_commands(uow, [command(alert, "resolve", 1, note="talked it through")])
    with pytest.raises(CommandRejected):
        await apply_commands(uow, [command(alert, "acknowledge", 2)])
    assert only_alert(uow).status is AlertStatus.RESOLVED
    assert len(uow.outbox.messages) == 2
    assert uow.commits == 2


async def test_a_command_that_overtakes_its_alert_is_applied_when_it_is_raised() -> None:
    events = scoring_outputs()
    alert = only_alert(await raised(events))  # alert ids are derived from the events
    uow = FakeAlertsUnitOfWork()
    assert await apply_commands(uow, [command(alert, "acknowledge", 1)]) == 0
    [parked] = uow.parked.commands.values()
    assert parked.payload.alert_id == alert.alert_id
    assert await apply_scoring(uow, events) == 2  # raised, then acknowledged
    assert only_alert(uow).status is AlertStatus.ACKNOWLEDGED
    assert uow.parked.commands == {}


async def test_an_unacknowledged_alert_escalates_once_to_the_supervisors() -> None:
    uow = await raised()
    alert = only_alert(uow)
    assert alert.escalate_at is not None
    await apply_clinic_events(uow, [staff_changed(alert.raised_at, "sup-1", StaffRole.SUPERVISOR)])
    assert await escalate_due(uow, alert.escalate_at - timedelta(seconds=1)) == 0
    assert await escalate_due(uow, alert.escalate_at + timedelta(days=3)) == 1
    [decided] = clock_events(uow)
    assert decided.payload.alert_id == alert.alert_id
    assert only_alert(uow) == alert  # the clock records its decision; the consumer applies it
    assert await apply_clock(uow, [decided]) == 1
    escalated = only_alert(uow)
    assert escalated.escalated
    assert escalated.history[-1].action is AlertAction.ESCALATED
    assert escalated.history[-1].at == alert.escalate_at  # dated at its due time
    assert notices(uow)[-1].payload.recipients == ["th-1", "sup-1"]
    assert notices(uow)[-1].payload.action is AlertAction.ESCALATED
    assert await apply_clock(uow, [decided]) == 0  # redelivered: nothing
    assert await escalate_due(uow, alert.escalate_at + timedelta(days=4)) == 0  # once
    assert len(clock_events(uow)) == 1


async def test_a_clock_decision_repeated_before_it_is_applied_escalates_once() -> None:
    """Two ticks (or two replicas) may decide the same escalation before the first is applied:
    the same event id, so the second is a no-op."""
    uow = await raised()
    alert = only_alert(uow)
    assert alert.escalate_at is not None
    assert await escalate_due(uow, alert.escalate_at) == 1
    assert await escalate_due(uow, alert.escalate_at + timedelta(seconds=5)) == 1
    first, second = clock_events(uow)
    assert first.event_id == second.event_id
    assert await apply_clock(uow, [first, second]) == 1
    assert [t.action for t in only_alert(uow).history].count(AlertAction.ESCALATED) == 1


async def test_a_replay_reproduces_the_escalations_whatever_the_order_of_the_topics() -> None:
    """Live: raised, escalated by the clock at its due time (72 h), acknowledged at 80 h. A
    replay reads the same records, but the topics are not ordered with each other: the
    escalation may come before its alert (it waits, like a command) or after the later
    acknowledgement (it is kept, in its place). Either way the alert, its history and its
    notices are the live ones, and the replay's clock decides nothing."""
    events = scoring_outputs()
    live = await raised(events)
    alert = only_alert(live)
    assert alert.escalate_at is not None
    assert await escalate_due(live, alert.escalate_at) == 1
    [decided] = clock_events(live)
    await apply_clock(live, [decided])
    acknowledge = command(alert, "acknowledge", 80)
    await apply_commands(live, [acknowledge])
    expected = only_alert(live)
    assert [t.action for t in expected.history] == [
        AlertAction.RAISED,
        AlertAction.ESCALATED,
        AlertAction.ACKNOWLEDGED,
    ]
    sent = {n.event_id for n in notices(live)}
    assert len(sent) == 3

    clock_first = FakeAlertsUnitOfWork()
    assert await apply_clock(clock_first, [decided]) == 0  # no alert yet: it waits
    assert await apply_commands(clock_first, [acknowledge]) == 0
    assert len(clock_first.parked.commands) == 2
    assert await apply_scoring(clock_first, events) == 3
    ack_first = FakeAlertsUnitOfWork()
    await apply_scoring(ack_first, events)
    await apply_commands(ack_first, [acknowledge])
    assert await apply_clock(ack_first, [decided]) == 1
    for replay in (clock_first, ack_first):
        assert only_alert(replay) == expected
        assert {n.event_id for n in notices(replay)} == sent
        assert replay.parked.commands == {}
        # The escalated alert is acknowledged: nothing is due, nothing new is decided.
        assert await escalate_due(replay, alert.escalate_at + timedelta(days=9)) == 0
        assert clock_events(replay) == []


async def test_an_assignment_moves_the_cases_active_alerts_to_the_new_therapist() -> None:
    uow = await raised()
    alert = only_alert(uow)
    at = alert.raised_at + timedelta(hours=1)
    transfer = CaseAssigned(
        event_id=uuid.uuid4(),
        clinic_id="clinic-a",
        case_id="case-1",
        occurred_at=at,
        recorded_at=at,
        payload=CaseAssignedPayload(therapist_id="th-2", transfer=True),
    )
    assert await apply_clinic_events(uow, [transfer]) == 1
    assert only_alert(uow).therapist_id == "th-2"
    assert notices(uow)[-1].payload.recipients == ["th-2"]
    assert uow.routing.assigned[("clinic-a", "case-1")] == ("th-2", True)
    # An explicit assignment is not overridden by the therapist seen rating the case.
    await apply_scoring(uow, outputs(srs_series("case-1", [38])))
    assert uow.routing.assigned[("clinic-a", "case-1")] == ("th-2", True)


async def test_live_notices_are_queued_once_for_clinics_with_an_active_webhook() -> None:
    uow = await raised()
    [note] = notices(uow)
    sealed = BOX.seal("whsec_x", "clinic-a")
    await uow.deliveries.upsert_endpoint("clinic-a", "https://hooks.example/a", True, sealed)
    policy = DeliveryPolicy()
    stale = note.recorded_at + policy.live_window + timedelta(seconds=1)
    assert await enqueue_deliveries(uow, [note], stale, policy) == 0  # not live any more
    assert uow.transactions == 1  # nothing to look up
    assert await enqueue_deliveries(uow, [note, note], note.recorded_at, policy) == 2
    assert await enqueue_deliveries(uow, [note], note.recorded_at, policy) == 1
    [queued] = uow.deliveries.queued.values()
    assert queued[:3] == (note.event_id, "clinic-a", "https://hooks.example/a")
    other = note.model_copy(update={"clinic_id": "clinic-b", "event_id": uuid.uuid4()})
    assert await enqueue_deliveries(uow, [other], note.recorded_at, policy) == 0  # no webhook


async def test_a_rotated_secret_keeps_the_previous_one_valid_for_the_changeover() -> None:
    uow = FakeAlertsUnitOfWork()
    policy = DeliveryPolicy()
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert await rotate_secret(uow, BOX, "clinic-a", now, policy) is None  # no webhook
    first = BOX.seal("whsec_first", "clinic-a")
    await uow.deliveries.upsert_endpoint("clinic-a", "https://hooks.example/a", True, first)
    rotated = await rotate_secret(uow, BOX, "clinic-a", now, policy)
    assert rotated is not None
    secret, until = rotated
    assert until == now + policy.rotation_overlap
    endpoint = uow.deliveries.endpoints["clinic-a"]
    assert BOX.open(endpoint.sealed, "clinic-a") == secret
    assert endpoint.previous == first
    with pytest.raises(RotationInProgress):
        await rotate_secret(uow, BOX, "clinic-a", until - timedelta(seconds=1), policy)
    assert (uow.transactions, uow.commits) == (3, 2)  # the refused one left nothing
    assert uow.deliveries.endpoints["clinic-a"].previous == first
