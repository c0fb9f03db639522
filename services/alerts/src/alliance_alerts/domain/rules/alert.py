"""An alert, its history and its typed transitions, and the notice of each transition. Pure.

Every transition appends to the alert's history and becomes one notice. A transition's id derives
from the alert, the action and its cause's key, so a replay or a redelivery repeats it. Each
transition checks that it applies (a resolved alert does not move) and validates the new state.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from alliance_contracts.events import (
    AlertCommand,
    AlertHistoryEntry,
    AlertNotice,
    AlertNoticePayload,
    DyadRef,
    EventEnvelope,
    RuleEvidence,
    derived_event_id,
)
from alliance_contracts.instruments import RuleBroken
from alliance_contracts.vocabulary import (
    AlertAction,
    AlertKind,
    AlertPriority,
    AlertStatus,
    Severity,
)


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Transition(AlertHistoryEntry):
    """A history entry (at: event time; status: after it) with its id and when the platform
    recorded its cause (decides liveness of webhooks)."""

    event_id: uuid.UUID
    recorded_at: datetime


class TransitionRefused(RuleBroken, ValueError):
    """The transition does not apply to the alert as it is; the message says why."""


@dataclass(frozen=True, slots=True)
class Cause:
    """What moves an alert: when (event time), when the platform recorded it, the key its
    transition id derives from, who (None: the system) and their note."""

    at: datetime
    key: object
    recorded_at: datetime | None = None  # None: at `at`
    actor_id: str | None = None
    note: str | None = None

    @classmethod
    def of_event(cls, event: EventEnvelope, note: str | None = None, key: object = None) -> Cause:
        """An event (no user): dated at its time, recorded when it was; keyed by its id."""
        return cls(
            at=event.occurred_at,
            key=event.event_id if key is None else key,
            recorded_at=event.recorded_at,
            note=note,
        )

    @classmethod
    def of_command(cls, command: AlertCommand) -> Cause:
        c = command.payload
        return cls(
            at=command.occurred_at,
            key=command.event_id,
            recorded_at=command.recorded_at,
            actor_id=c.actor_id,
            note=c.note,
        )


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
    # early_low_alliance stands for two conditions once a rupture of its dyad joined it: it
    # resolves by itself only when neither holds (a cleared score may still sit below the
    # pre-rupture level, a repaired rupture below the cut-off).
    low_alliance_open: bool = False  # below the cut-off, not cleared since
    rupture_open: bool = False  # a rupture joined it and is not repaired

    @property
    def is_active(self) -> bool:
        return self.status is not AlertStatus.RESOLVED

    # -- transitions

    def raised(self, by: Cause) -> Alert:
        if self.history:
            raise TransitionRefused(f"alert {self.alert_id} was raised already")
        return self._moved(AlertAction.RAISED, by)

    def acknowledged(self, by: Cause) -> Alert:
        self._require_active()
        if self.status is AlertStatus.ACKNOWLEDGED:
            raise TransitionRefused("alert is already acknowledged")
        return self._moved(AlertAction.ACKNOWLEDGED, by, status=AlertStatus.ACKNOWLEDGED)

    def resolved(self, by: Cause) -> Alert:
        """Resolved by a user, who says how in the note."""
        self._require_active()
        if not by.note:
            raise TransitionRefused("note: a resolution needs a note")
        return self._moved(AlertAction.RESOLVED, by, status=AlertStatus.RESOLVED)

    def auto_resolved(self, by: Cause) -> Alert:
        """Its condition cleared (the note says which)."""
        return self._moved(AlertAction.AUTO_RESOLVED, by, status=AlertStatus.RESOLVED)

    def snoozed(self, by: Cause, until: datetime | None) -> Alert:
        """Quiet until then; an escalation due before then waits for it."""
        self._require_active()
        if until is None or until <= by.at:
            raise TransitionRefused("snooze_until: must be after the command's time")
        escalate_at = self.escalate_at and max(self.escalate_at, until)
        return self._moved(AlertAction.SNOOZED, by, snoozed_until=until, escalate_at=escalate_at)

    def reassigned(self, by: Cause, therapist_id: str | None) -> Alert:
        self._require_active()
        if not therapist_id:
            raise TransitionRefused("assignee_id: required to reassign")
        return self._moved(AlertAction.REASSIGNED, by, therapist_id=therapist_id)

    def handed_over(self, by: Cause, therapist_id: str) -> Alert:
        """To the therapist who takes the case over; its notice carries the history."""
        return self._moved(AlertAction.HANDED_OVER, by, therapist_id=therapist_id)

    def escalated_to_supervisors(
        self,
        by: Cause,
        *,
        severity: Severity | None = None,
        summary: str | None = None,
        evidence: Sequence[RuleEvidence] = (),
        **conditions: bool,
    ) -> Alert:
        """To the clinic's supervisors; with a new severity, summary and evidence when the
        condition worsened (a rupture gone unresolved)."""
        return self._moved(
            AlertAction.ESCALATED,
            by,
            escalated=True,
            severity=severity or self.severity,
            summary=summary or self.summary,
            evidence=(*self.evidence, *evidence),
            **conditions,
        )

    def escalation_recorded(self, by: Cause) -> Alert | None:
        """The clock's escalation as recorded on its topic, applied as a fact whatever the alert
        became since (a later acknowledgement or resolution applied first in a replay keeps it):
        placed in the history at its time, with the status the alert had then. None when this
        escalation is in the history already."""
        place = next((i for i, t in enumerate(self.history) if t.at > by.at), len(self.history))
        status = self.history[place - 1].status if place else self.status
        transition = self._transition(AlertAction.ESCALATED, by, status)
        if any(t.event_id == transition.event_id for t in self.history):
            return None
        history = (*self.history[:place], transition, *self.history[place:])
        return Alert.model_validate({**dict(self), "escalated": True, "history": history})

    def updated(self, by: Cause, evidence: Sequence[RuleEvidence], **conditions: bool) -> Alert:
        """The same alert with new evidence (no second alert), and its conditions as they are
        now (`low_alliance_open`, `rupture_open`)."""
        return self._moved(
            AlertAction.UPDATED, by, evidence=(*self.evidence, *evidence), **conditions
        )

    def _require_active(self) -> None:
        if not self.is_active:
            raise TransitionRefused(f"alert {self.alert_id} is already resolved")

    def _moved(self, action: AlertAction, by: Cause, **changes: object) -> Alert:
        """This alert after one transition (appended to its history). Validated, unlike
        model_copy: a wrong value fails here, loudly."""
        self._require_active()
        transition = self._transition(
            action, by, AlertStatus(str(changes.get("status", self.status)))
        )
        return Alert.model_validate(
            {**dict(self), **changes, "history": (*self.history, transition)}
        )

    def _transition(self, action: AlertAction, by: Cause, status: AlertStatus) -> Transition:
        return Transition(
            event_id=derived_event_id("alert-transition", self.alert_id, action.value, by.key),
            at=by.at,
            recorded_at=by.recorded_at or by.at,
            action=action,
            status=status,
            actor_id=by.actor_id,
            note=by.note,
        )


Key = tuple[AlertKind, str]  # (kind, subject): at most one active alert per key in a case


def notice(
    alert: Alert, recipients: Sequence[str], transition: Transition | None = None
) -> AlertNotice:
    """The notice of one transition of the alert (its latest by default), with the alert's
    state as it is now."""
    last = alert.history[-1] if transition is None else transition
    so_far = alert.history[: alert.history.index(last) + 1]
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
            history=[
                AlertHistoryEntry.model_validate(t.model_dump(include=_ENTRY))
                for t in (so_far if last.action is AlertAction.HANDED_OVER else ())
            ],
        ),
    )


_ENTRY = set(AlertHistoryEntry.model_fields)


def recipients(alert: Alert, supervisors: Sequence[str]) -> list[str]:
    """The therapist; the clinic's supervisors too once escalated (and for critical items)."""
    people = [alert.therapist_id] if alert.therapist_id else []
    if alert.escalated:
        people += [s for s in supervisors if s not in people]
    return people
