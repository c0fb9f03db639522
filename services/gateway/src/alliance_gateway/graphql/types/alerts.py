"""Alerts with their lifecycle, a therapist's daily digest, and the live alert notices."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import strawberry

from alliance_contracts.events import AlertNotice
from alliance_contracts.readmodels import Alert as AlertRow
from alliance_contracts.readmodels import AlertTransition as AlertTransitionRow
from alliance_contracts.vocabulary import (
    AlertKind,
    AlertPriority,
    AlertStatus,
    RespondentRole,
    Severity,
)
from alliance_gateway.application import reads
from alliance_gateway.application.reads import Page
from alliance_gateway.application.request import Request
from alliance_gateway.graphql.pagination import ALERTS, Connection
from alliance_gateway.graphql.types.evidence import RuleEvidence


@strawberry.type(description="One step of an alert's life.")
class AlertTransition:
    at: datetime
    action: str
    status: AlertStatus
    actor_id: strawberry.ID | None
    note: str | None

    @classmethod
    def from_row(cls, row: AlertTransitionRow) -> AlertTransition:
        return cls(
            at=row.at,
            action=row.action,
            status=AlertStatus(row.status),
            actor_id=strawberry.ID(row.actor_id) if row.actor_id else None,
            note=row.note,
        )


@strawberry.type(description="An alert with its lifecycle, recipient and the rule behind it.")
class Alert:
    alert_id: strawberry.ID
    kind: AlertKind
    status: AlertStatus
    priority: AlertPriority
    severity: Severity | None
    case_id: strawberry.ID
    subject: str
    dyad_id: strawberry.ID | None
    respondent_role: RespondentRole | None
    therapist_id: strawberry.ID | None = strawberry.field(description="The recipient.")
    escalated: bool = strawberry.field(description="Also sent to the clinic's supervisors.")
    escalate_at: datetime | None
    snoozed_until: datetime | None
    instrument: str | None
    session_number: int | None
    summary: str
    raised_at: datetime
    evidence: list[RuleEvidence]

    @strawberry.field
    async def history(self, info: strawberry.Info[Request, None]) -> list[AlertTransition]:
        rows = await reads.alert_history(info.context, uuid.UUID(self.alert_id))
        return [AlertTransition.from_row(r) for r in rows]

    @classmethod
    def from_row(cls, row: AlertRow) -> Alert:
        return cls(
            alert_id=strawberry.ID(str(row.alert_id)),
            kind=AlertKind(row.kind),
            status=AlertStatus(row.status),
            priority=AlertPriority(row.priority),
            severity=Severity(row.severity) if row.severity else None,
            case_id=strawberry.ID(row.case_id),
            subject=row.subject,
            dyad_id=strawberry.ID(str(row.dyad_id)) if row.dyad_id else None,
            respondent_role=RespondentRole(row.respondent_role) if row.respondent_role else None,
            therapist_id=strawberry.ID(row.therapist_id) if row.therapist_id else None,
            escalated=row.escalated,
            escalate_at=row.escalate_at,
            snoozed_until=row.snoozed_until,
            instrument=row.instrument,
            session_number=row.session_number,
            summary=row.summary,
            raised_at=row.raised_at,
            evidence=[RuleEvidence.of(e) for e in row.evidence],
        )


@strawberry.type(description="A page of alerts, newest first (keyset pagination).")
class AlertConnection(Connection[Alert]):
    @classmethod
    def of_alerts(cls, page: Page[AlertRow]) -> AlertConnection:
        return cls.of(
            page, lambda row: ALERTS.cursor((row.raised_at, row.alert_id)), Alert.from_row
        )


@strawberry.type
class KindCount:
    kind: AlertKind
    count: int


@strawberry.type(description="A therapist's daily digest: what was raised that day, what is open.")
class Digest:
    therapist_id: strawberry.ID
    day: date
    raised: list[Alert]
    active: list[Alert] = strawberry.field(description="Open or acknowledged, most urgent first.")
    raised_by_kind: list[KindCount]

    @classmethod
    def of(cls, therapist_id: strawberry.ID, day: date, digest: reads.Digest) -> Digest:
        return cls(
            therapist_id=therapist_id,
            day=day,
            raised=[Alert.from_row(r) for r in digest.raised],
            active=[Alert.from_row(r) for r in digest.active],
            raised_by_kind=[KindCount(kind=k, count=n) for k, n in digest.raised_by_kind],
        )


@strawberry.type(description="An alert raised or changed (one per transition).")
class AlertNoticeEvent:
    notice_id: strawberry.ID
    alert_id: strawberry.ID
    clinic_id: strawberry.ID
    case_id: strawberry.ID
    kind: AlertKind
    action: str
    status: AlertStatus
    priority: AlertPriority
    summary: str
    recipients: list[strawberry.ID]
    escalated: bool
    at: datetime

    @classmethod
    def from_notice(cls, n: AlertNotice) -> AlertNoticeEvent:
        p = n.payload
        return cls(
            notice_id=strawberry.ID(str(n.event_id)),
            alert_id=strawberry.ID(str(p.alert_id)),
            clinic_id=strawberry.ID(n.clinic_id),
            case_id=strawberry.ID(n.case_id),
            kind=AlertKind(p.kind.value),
            action=p.action.value,
            status=AlertStatus(p.status.value),
            priority=AlertPriority(p.priority.value),
            summary=p.summary,
            recipients=[strawberry.ID(r) for r in p.recipients],
            escalated=p.escalated,
            at=n.occurred_at,
        )
