"""The read-model tables: written by their owning service, read by the gateway.

Shaped like the API that serves them. Owners: `scoring.*` by scoring, `alerts.*` by alerts. The
gateway reads them through a read-only session and never writes, and reads nothing else: these
tables and columns are all it may name (tests/unit/test_read_contract.py). Each JSON column holds
one shape of `documents.py`. What an owner keeps for itself lives in tables of its own (alerts'
`alert_state`), never granted to the reader role.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, Integer, Table, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from alliance_contracts.events import ClinicalRange
from alliance_contracts.readmodels.documents import (
    Demographics,
    DyadClinical,
    Episode,
    Evidence,
    LatestScores,
    Outcomes,
    Readiness,
    Splits,
    Subscales,
    adapter,
)


class Document(TypeDecorator[Any]):
    """A JSONB column holding one shape: validated into it when read, dumped from it when
    written through SQLAlchemy."""

    impl = JSONB
    cache_ok = True

    def __init__(self, shape: Any) -> None:
        super().__init__()
        self.shape = shape

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else adapter(self.shape).dump_python(value, mode="json")

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else adapter(self.shape).validate_python(value)


def _tz(nullable: bool = False) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=nullable))


def _doc(shape: Any, default: Any, description: str | None = None) -> Any:
    """A JSON column of one documents.py shape."""
    return Field(
        default=default, sa_column=Column(Document(shape), nullable=False), description=description
    )


class Dyad(SQLModel, table=True):
    """A therapist with one respondent (client, parent/caregiver or the therapist's own rating)
    within a case, with its latest score per instrument."""

    __tablename__ = "dyad"
    __table_args__ = (Index("dyad_clinic_case", "clinic_id", "case_id"), {"schema": "scoring"})

    dyad_id: uuid.UUID = Field(primary_key=True)
    clinic_id: str = Field(sa_type=Text)
    case_id: str = Field(sa_type=Text)
    therapist_id: str = Field(sa_type=Text)
    respondent_role: str = Field(sa_type=Text)
    respondent_id: str | None = Field(default=None, sa_type=Text)
    responses: int = 0
    latest: LatestScores = _doc(
        LatestScores, {}, "Instrument code to its latest score (by administration time)."
    )
    clinical: DyadClinical = _doc(
        DyadClinical,
        DyadClinical(),
        "Trend, client-therapist discrepancy and ruptures with their repair state.",
    )
    updated_at: datetime = _tz()


class CaseView(SQLModel, table=True):
    """The family view of a case: phase, episode, outcome progress, splits, readiness."""

    __tablename__ = "case_view"
    __table_args__ = (Index("case_view_clinic", "clinic_id", "case_id"), {"schema": "scoring"})

    clinic_id: str = Field(primary_key=True, sa_type=Text)
    case_id: str = Field(primary_key=True, sa_type=Text)
    phase: str = Field(sa_type=Text)
    latest_session: int
    episode: Episode = _doc(Episode, Episode())
    outcomes: Outcomes = _doc(Outcomes, ())
    splits: Splits = _doc(Splits, ())
    readiness: Readiness = _doc(Readiness, Readiness())
    demographics: Demographics = _doc(Demographics, Demographics())
    updated_at: datetime = _tz()


class DyadScore(SQLModel, table=True):
    """One scored response in a dyad's timeline."""

    __tablename__ = "dyad_score"
    __table_args__ = (
        Index("dyad_score_timeline", "dyad_id", "instrument", "administered_at"),
        {"schema": "scoring"},
    )

    source_event_id: uuid.UUID = Field(primary_key=True)
    # The response this version belongs to: its response.submitted's event id (source_event_id
    # itself unless the version is an amendment's): what a FHIR Observation is derived from.
    # None only while a generation older than scoring's version 11 is live (its views show the
    # column as NULL: `projections.point_views(adding_from=...)`).
    response_id: uuid.UUID | None = None
    dyad_id: uuid.UUID
    clinic_id: str = Field(sa_type=Text)
    instrument: str = Field(sa_type=Text)
    form: str = Field(sa_type=Text)
    session_number: int
    administered_at: datetime = _tz()
    total: float
    subscales: Subscales = _doc(Subscales, {})
    normalized: float
    scoring_key: str = Field(sa_type=Text)
    prorated_items: list[int] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(Integer), nullable=False, server_default=text("'{}'")),
    )
    critical_items: list[int] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(Integer), nullable=False, server_default=text("'{}'")),
    )
    # events.ClinicalRange as judged at scoring time; null without a cut-off.
    clinical_range: ClinicalRange | None = Field(
        None, sa_column=Column(Document(ClinicalRange), nullable=True)
    )
    # current; amended or voided once a correction replaced it (`replaced_by`: the amendment or
    # void). The audit trail keeps every version.
    status: str = Field(
        default="current", sa_type=Text, sa_column_kwargs={"server_default": "current"}
    )
    replaced_by: uuid.UUID | None = None


class Signal(SQLModel, table=True):
    """A derived clinical event of a case, with the rule and inputs that produced it."""

    __tablename__ = "signal"
    __table_args__ = (
        Index("signal_case", "clinic_id", "case_id", "occurred_at"),
        {"schema": "scoring"},
    )

    event_id: uuid.UUID = Field(primary_key=True)
    clinic_id: str = Field(sa_type=Text)
    case_id: str = Field(sa_type=Text)
    dyad_id: uuid.UUID | None = None
    kind: str = Field(sa_type=Text)
    severity: str | None = Field(default=None, sa_type=Text)
    instrument: str | None = Field(default=None, sa_type=Text)
    session_number: int | None = None
    summary: str = Field(sa_type=Text)
    evidence: Evidence = _doc(Evidence, ())
    occurred_at: datetime = _tz()
    # The id of its content (differs from event_id only for a signal published again after it
    # was withdrawn, under a new id).
    content_id: uuid.UUID
    # Set when the case, folded again after a late or corrected input, no longer shows it.
    withdrawn_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    withdrawn_reason: str | None = Field(default=None, sa_type=Text)


class Alert(SQLModel, table=True):
    """An alert with its lifecycle state, the rule and inputs that raised it, and its recipient."""

    __tablename__ = "alert"
    __table_args__ = (
        Index("alert_clinic_raised", "clinic_id", "raised_at"),
        Index("alert_therapist", "clinic_id", "therapist_id", "raised_at"),
        # At most one active alert of a kind per subject of a case (de-duplication, enforced
        # by the database as well as by the rules).
        Index(
            "alert_one_active_per_subject",
            "clinic_id",
            "case_id",
            "kind",
            "subject",
            unique=True,
            postgresql_where=text("status <> 'resolved'"),
        ),
        {"schema": "alerts"},
    )

    alert_id: uuid.UUID = Field(primary_key=True)
    clinic_id: str = Field(sa_type=Text)
    case_id: str = Field(sa_type=Text)
    kind: str = Field(sa_type=Text)
    subject: str = Field(sa_type=Text)
    dyad_id: uuid.UUID | None = None
    respondent_role: str | None = Field(default=None, sa_type=Text)
    therapist_id: str | None = Field(default=None, sa_type=Text)
    status: str = Field(sa_type=Text)
    priority: str = Field(sa_type=Text)
    severity: str | None = Field(default=None, sa_type=Text)
    escalated: bool = False
    escalate_at: datetime | None = _tz(nullable=True)
    snoozed_until: datetime | None = _tz(nullable=True)
    instrument: str | None = Field(default=None, sa_type=Text)
    session_number: int | None = None
    source_event_id: uuid.UUID
    summary: str = Field(sa_type=Text)
    evidence: Evidence = _doc(Evidence, ())
    raised_at: datetime = _tz()
    updated_at: datetime = _tz()


class AlertTransition(SQLModel, table=True):
    """Every transition of every alert: raised, updated, acknowledged, snoozed, reassigned,
    escalated, handed over, resolved, auto-resolved (the note says why). An alert's history is
    its rows in `seq` order."""

    __tablename__ = "alert_transition"
    __table_args__ = (
        Index("alert_transition_alert", "alert_id", "seq", unique=True),
        {"schema": "alerts"},
    )

    event_id: uuid.UUID = Field(primary_key=True)
    alert_id: uuid.UUID
    seq: int = Field(description="Its place in the alert's history, from 0.")
    clinic_id: str = Field(sa_type=Text)
    at: datetime = _tz()
    action: str = Field(sa_type=Text)
    status: str = Field(sa_type=Text)
    actor_id: str | None = Field(default=None, sa_type=Text)
    note: str | None = Field(default=None, sa_type=Text)


class CaseAssignment(SQLModel, table=True):
    """Who is responsible for a case (a clinician's caseload): an explicit assignment, else the
    therapist last seen rating it. Owned by alerts, which routes alerts by it."""

    __tablename__ = "assignment"
    __table_args__ = ({"schema": "alerts"},)

    clinic_id: str = Field(primary_key=True, sa_type=Text)
    case_id: str = Field(primary_key=True, sa_type=Text)
    therapist_id: str = Field(sa_type=Text)
    explicit: bool = Field(description="Assigned by a person; false: the therapist last seen.")
    updated_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    )


def table_of(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table
