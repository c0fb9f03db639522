"""The projection state of a case, as immutable values that serialise to JSON.

A case holds its dyads (therapist x respondent), each with its score series per instrument and
its ruptures, plus the case-level views: outcome progress, split alliance, phase, episode and
termination readiness. `case.apply` folds events into it; `case.decide` derives signals.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from alliance_contracts.events import DyadRef, OqNormSet, RuleEvidence
from alliance_contracts.vocabulary import (
    AgeGroup,
    EpisodeEnding,
    EpisodeStatus,
    OutcomeClass,
    Phase,
    RuptureStatus,
    Severity,
)


class Value(BaseModel):
    """Validated when built from outside data (`CaseState.model_validate_json`, a constructor);
    the fold derives new values from valid ones with `copy_with`, which does not validate again."""

    model_config = ConfigDict(frozen=True, extra="forbid")


V = TypeVar("V", bound=Value)
_set = object.__setattr__


def copy_with(value: V, **changes: Any) -> V:
    """`value.model_copy(update=changes)`, as pydantic makes it (the same fields, the changed
    ones marked set, nothing validated) without its generic copying: a value has no extra and
    no private attributes. The fold's hot path makes several per event."""
    new = object.__new__(type(value))
    _set(new, "__dict__", {**value.__dict__, **changes})
    _set(new, "__pydantic_extra__", None)
    _set(new, "__pydantic_fields_set__", value.__pydantic_fields_set__ | changes.keys())
    _set(new, "__pydantic_private__", None)
    return new


class Point(Value):
    """One scored administration."""

    session_number: int
    administered_at: datetime
    total: float
    normalized: float
    subscales: dict[str, float] = Field(default_factory=dict)
    source_event_id: uuid.UUID


class Rupture(Value):
    """A rupture episode of one dyad on one instrument: opened by one or more rules, repaired
    when the score returns to its pre-rupture level, unresolved (escalated) after the window."""

    rupture_id: uuid.UUID
    instrument: str
    opened_session: int
    opened_at: datetime
    severity: Severity
    target: float  # the pre-rupture level to return to
    status: RuptureStatus = RuptureStatus.OPEN
    resolved_session: int | None = None
    evidence: tuple[RuleEvidence, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.status != RuptureStatus.REPAIRED


class Trend(Value):
    instrument: str
    slope_per_session: float  # normalised (0-1) units per session
    sessions: int
    declining: bool


class DyadState(Value):
    dyad: DyadRef
    series: dict[str, tuple[Point, ...]] = Field(default_factory=dict)  # by instrument
    ruptures: tuple[Rupture, ...] = ()
    trend: Trend | None = None
    discrepancy: float | None = None  # this rating minus the therapist's, 0-1 scale
    responses: int = 0
    early_low: tuple[str, ...] = ()  # instruments below their cut-off since the foundation phase


class OutcomeState(Value):
    """Progress of one outcome series (e.g. the client's ORS) against its intake baseline."""

    instrument: str
    respondent_role: str
    respondent_id: str | None = None
    baseline: Point
    latest: Point
    cutoff: float
    reliable_change: float
    higher_is_better: bool
    improvement: float  # in the instrument's good direction, points
    outcome_class: OutcomeClass
    recovered_streak: int = 0  # consecutive administrations classed recovered
    expected_improvement: float | None = None
    on_track: bool | None = None
    curve_band: str | None = None
    tolerance: float | None = None


class SplitState(Value):
    child_dyad_id: uuid.UUID
    parent_dyad_id: uuid.UUID
    gap: float  # parent minus child, 0-1 scale
    active: bool
    reason: str | None = None


class Readiness(Value):
    ready: bool
    reasons: tuple[str, ...] = ()


class Episode(Value):
    status: EpisodeStatus = EpisodeStatus.OPEN
    ending: EpisodeEnding | None = None
    ended_at: datetime | None = None


class Demographics(Value):
    """The case's age band and OQ-45.2 norm set override, and from when (the latest change).
    None: not set (the instrument's default band; the clinic's norm set)."""

    age_group: AgeGroup | None = None
    oq_norm_set: OqNormSet | None = None
    effective_from: datetime | None = None


class CaseState(Value):
    clinic_id: str
    case_id: str
    dyads: dict[str, DyadState] = Field(default_factory=dict)  # by dyad id
    outcomes: dict[str, OutcomeState] = Field(default_factory=dict)  # by instrument:dyad
    splits: tuple[SplitState, ...] = ()
    phase: Phase = Phase.FOUNDATION
    latest_session: int = 0
    episode: Episode = Episode()
    readiness: Readiness = Readiness(ready=False)
    critical_items: tuple[int, ...] = ()  # of the latest response, when any were endorsed
    demographics: Demographics = Demographics()
    # The clinical-order key of the latest input folded (history.order_key): an input that
    # sorts before it makes the case fold again from its history.
    folded_through: tuple[datetime, int, datetime, str] | None = None
