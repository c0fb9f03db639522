"""The JSON columns of the read models: one typed shape per column another service reads.

The owner (scoring, alerts) builds them from its own state and writes `dump_json`; the reader (the
gateway) gets them typed through `tables.Document` (a JSONB column that validates on read).
Plain Pydantic, no SQL. They are
tolerant readers (unknown keys are ignored), so a writer one version ahead or behind in a rolling
deploy does not break a reader; a shape that changes meaning needs a projection rebuild.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter

from alliance_contracts.events import OqNormSet, RuleEvidence
from alliance_contracts.vocabulary import (
    AgeGroup,
    EpisodeEnding,
    EpisodeStatus,
    OutcomeClass,
    Phase,
    RespondentRole,
    RuptureStatus,
    Severity,
)


class Shape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


# -- scoring.dyad


class LatestScore(Shape):
    """The latest score of one instrument in a dyad (by administration time)."""

    session_number: int
    administered_at: datetime
    total: float
    normalized: float
    subscales: dict[str, float] = {}
    source_event_id: uuid.UUID


LatestScores = dict[str, LatestScore]  # `scoring.dyad.latest`: by instrument code


class Trend(Shape):
    """Least-squares slope of the 0-1 alliance over recent sessions."""

    instrument: str
    slope_per_session: float
    sessions: int
    declining: bool


class Rupture(Shape):
    """A rupture with its repair state."""

    rupture_id: uuid.UUID
    instrument: str
    opened_session: int
    opened_at: datetime
    severity: Severity
    target: float  # the pre-rupture level to return to
    status: RuptureStatus
    resolved_session: int | None = None
    evidence: tuple[RuleEvidence, ...] = ()


class DyadClinical(Shape):
    """`scoring.dyad.clinical`: the case's phase, the dyad's trend, its discrepancy with the
    therapist's own rating and its ruptures."""

    phase: Phase = Phase.FOUNDATION
    trend: Trend | None = None
    discrepancy: float | None = None  # this rating minus the therapist's, 0-1 scale
    ruptures: tuple[Rupture, ...] = ()
    open_ruptures: int = 0


# -- scoring.case_view


class Episode(Shape):
    """`scoring.case_view.episode`."""

    status: EpisodeStatus = EpisodeStatus.OPEN
    ending: EpisodeEnding | None = None
    ended_at: datetime | None = None


class OutcomePoint(Shape):
    session_number: int
    administered_at: datetime
    total: float


class Outcome(Shape):
    """Outcome progress of one instrument and respondent against the intake baseline."""

    instrument: str
    respondent_role: RespondentRole
    respondent_id: str | None = None
    baseline: OutcomePoint
    latest: OutcomePoint
    improvement: float  # points, in the instrument's good direction
    outcome_class: OutcomeClass
    recovered_streak: int = 0
    cutoff: float
    reliable_change: float
    expected_improvement: float | None = None
    on_track: bool | None = None
    curve_band: str | None = None


Outcomes = tuple[Outcome, ...]  # `scoring.case_view.outcomes`


class Split(Shape):
    """Child versus parent alliance."""

    child_dyad_id: uuid.UUID
    parent_dyad_id: uuid.UUID
    gap: float  # parent minus child, 0-1 scale
    active: bool
    reason: str | None = None


Splits = tuple[Split, ...]  # `scoring.case_view.splits`


class Readiness(Shape):
    """`scoring.case_view.readiness`: decision support for planning termination."""

    ready: bool = False
    reasons: tuple[str, ...] = ()


class Demographics(Shape):
    """`scoring.case_view.demographics`: the current age band and OQ-45.2 norm set override,
    and when the latest change applies."""

    age_group: AgeGroup | None = None
    oq_norm_set: OqNormSet | None = None
    effective_from: datetime | None = None


# -- evidence of signals and alerts, subscales of scores

Evidence = tuple[RuleEvidence, ...]
Subscales = dict[str, float]


@cache
def adapter(shape: Any) -> TypeAdapter[Any]:
    """The validator and serializer of a shape (built once)."""
    return TypeAdapter(shape)


def dump_json(shape: Any, source: object) -> str:
    """What a writer stores in a JSON column of this shape, built from its own state: `source`
    is read by attribute or key (`dump_json(Outcomes, case.outcomes.values())`), and anything
    the shape does not declare stays out."""
    of_shape = adapter(shape)
    return of_shape.dump_json(of_shape.validate_python(source, from_attributes=True)).decode()
