"""Alerts as they change (notices), users' commands on them and the clock's decisions."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, Field

from alliance_contracts.events.envelope import EventEnvelope, Frozen
from alliance_contracts.events.scoring import DyadRef, RuleEvidence
from alliance_contracts.ids import Note, PseudonymousId
from alliance_contracts.timing import Timestamp
from alliance_contracts.vocabulary import (
    AlertAction,
    AlertCommandAction,
    AlertKind,
    AlertPriority,
    AlertStatus,
    Severity,
)


class AlertHistoryEntry(Frozen):
    """One transition of an alert, as its history shows it (GraphQL `Alert.history`)."""

    at: AwareDatetime
    action: AlertAction
    status: AlertStatus = Field(description="The alert's status after the transition.")
    actor_id: PseudonymousId | None = Field(None, description="Who acted; null: the system.")
    note: str | None = None


class AlertNoticePayload(Frozen):
    alert_id: uuid.UUID
    kind: AlertKind
    action: AlertAction
    status: AlertStatus
    priority: AlertPriority
    severity: Severity | None = None
    dyad: DyadRef | None = None
    subject: str = Field(description="What the alert is about within the case (de-duplication).")
    instrument: str | None = None
    session_number: int | None = None
    summary: str
    recipients: list[PseudonymousId] = Field(description="Staff ids to notify.")
    escalated: bool = False
    snoozed_until: AwareDatetime | None = None
    actor_id: PseudonymousId | None = Field(None, description="Who acted; null: the system.")
    note: str | None = None
    source_event_id: uuid.UUID
    evidence: list[RuleEvidence] = Field(default_factory=list)
    history: list[AlertHistoryEntry] = Field(
        default_factory=list,
        description="handed_over: the alert's history up to and including the handover, oldest "
        "first, for the therapist who takes the case over; empty on other notices.",
    )


class AlertNotice(EventEnvelope):
    """An alert raised or changed (every transition is one). Topic: notices. Ids are derived
    from the source event and the transition, so replays and redeliveries repeat them."""

    event_type: Literal["alert.notice"] = "alert.notice"
    schema_version: Literal[1] = 1
    payload: AlertNoticePayload


class AlertCommandPayload(Frozen):
    alert_id: uuid.UUID
    action: AlertCommandAction
    actor_id: PseudonymousId
    note: Note | None = None
    snooze_until: Timestamp | None = None
    assignee_id: PseudonymousId | None = None


class AlertCommand(EventEnvelope):
    """A user's command on an alert (from the gateway). Topic: commands (key: case id). Only the
    alerts service applies it."""

    event_type: Literal["alert.command"] = "alert.command"
    schema_version: Literal[1] = 1
    payload: AlertCommandPayload


class EscalationDuePayload(Frozen):
    alert_id: uuid.UUID
    due_at: AwareDatetime = Field(
        description="The escalation time the clock acted on; the transition is dated at it."
    )


class EscalationDue(EventEnvelope):
    """The alerts service's clock found an open alert unescalated at its escalation time. Topic:
    alert-clock (key: case id); `occurred_at` is the due time, `recorded_at` when the clock
    decided. Its id derives from the alert, the transition and the due time, so deciding it
    again is a no-op. Applied as a fact: a replay repeats the escalation, never decides it."""

    event_type: Literal["alert.escalation_due"] = "alert.escalation_due"
    schema_version: Literal[1] = 1
    payload: EscalationDuePayload


# Every event on the alert-clock topic (snooze expiries or digests would join here).
AlertClockEvent = EscalationDue
