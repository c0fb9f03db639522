"""The case fold: `apply(state, event, scored, config) -> state` and
`decide(before, after, event, scored, config) -> signals`. Pure: no I/O, no clock, no randomness.

The state is the fold of the case's effective history in clinical order (`history.py`). An
input that sorts after everything folded so far is folded onto the state (`apply`, the usual
case); anything else (a late response, an amendment, a void) folds the case again from its
history (`fold_history`). Each clinical rule lives in its own module under `rules/`; this
module only orders them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import singledispatch

from alliance_contracts.clinical_config import ClinicalConfig
from alliance_contracts.events import (
    CaseDemographicsSet,
    ClinicalSignal,
    EpisodeEnded,
    ResponseScored,
    ResponseSubmitted,
)
from alliance_contracts.instruments import REGISTRY, Construct
from alliance_contracts.vocabulary import EpisodeStatus, Phase
from alliance_scoring.domain.dyads import demographics_for
from alliance_scoring.domain.history import Effective, order_key
from alliance_scoring.domain.rules import (
    DETECTORS,
    critical_items,
    discrepancies,
    early_alliance,
    outcome,
    phase,
    readiness,
    ruptures,
    splits,
    trend,
)
from alliance_scoring.domain.state import CaseState, DyadState, Episode, Point, copy_with
from alliance_scoring.domain.step import Step


def new_case(clinic_id: str, case_id: str) -> CaseState:
    return CaseState(clinic_id=clinic_id, case_id=case_id)


def apply(
    state: CaseState, event: Effective, scored: ResponseScored | None, config: ClinicalConfig
) -> CaseState:
    """Folds one event that sorts after everything folded so far. A response comes with its
    score (`dyads.score`)."""
    after = _fold(event, state, scored, config)
    return copy_with(after, folded_through=order_key(event))


@dataclass(frozen=True, slots=True)
class Folded:
    """A case folded from its history: the state, every score and every signal, in order."""

    state: CaseState
    scored: list[ResponseScored]
    signals: list[ClinicalSignal]


def fold_history(
    clinic_id: str,
    case_id: str,
    history: Sequence[Effective],
    score_of: Callable[[ResponseSubmitted, ClinicalConfig, CaseState], ResponseScored],
    config_of: Callable[[Effective], ClinicalConfig],
) -> Folded:
    """The fold of an effective history (`history.effective_history`), from a new case. Each
    response is scored in the case as folded before it (`score_of`)."""
    state = new_case(clinic_id, case_id)
    scored: list[ResponseScored] = []
    signals: list[ClinicalSignal] = []
    for event in history:
        config = config_of(event)
        result = score_of(event, config, state) if isinstance(event, ResponseSubmitted) else None
        after = apply(state, event, result, config)
        signals.extend(decide(state, after, event, result, config))
        if result is not None:
            scored.append(result)
        state = after
    return Folded(state, scored, signals)


@singledispatch
def _fold(
    event: object, state: CaseState, scored: ResponseScored | None, config: ClinicalConfig
) -> CaseState:
    raise TypeError(f"no fold for {type(event).__name__}")


@_fold.register
def _ended(
    event: EpisodeEnded, state: CaseState, scored: ResponseScored | None, config: ClinicalConfig
) -> CaseState:
    ended = Episode(
        status=EpisodeStatus.ENDED, ending=event.payload.ending, ended_at=event.payload.ended_at
    )
    return copy_with(state, episode=ended, phase=Phase.CLOSED, readiness=readiness.ENDED)


@_fold.register
def _demographics(
    event: CaseDemographicsSet,
    state: CaseState,
    scored: ResponseScored | None,
    config: ClinicalConfig,
) -> CaseState:
    # What the event leaves out stays as it was.
    p, current = event.payload, state.demographics
    demographics = copy_with(
        current,
        age_group=p.age_group or current.age_group,
        oq_norm_set=p.oq_norm_set or current.oq_norm_set,
        effective_from=p.effective_from,
    )
    return copy_with(state, demographics=demographics)


@_fold.register
def _response(
    event: ResponseSubmitted,
    state: CaseState,
    scored: ResponseScored | None,
    config: ClinicalConfig,
) -> CaseState:
    # The order matters: splits read the ruptures, readiness the outcomes, ruptures and trends,
    # and the phase the readiness.
    assert scored is not None
    demographics = demographics_for(state, event)
    if demographics is not state.demographics:  # most responses leave them as they are
        state = copy_with(state, demographics=demographics)
    state = _record(state, event, scored, config)
    state = discrepancies.evolve(state)
    # Readiness and the phase do not read the splits, so one copy takes all three.
    ready = readiness.evolve(state, config)
    return copy_with(
        state,
        splits=splits.evolve(state, config),
        readiness=ready,
        phase=phase.evolve(state, ready, config),
    )


def _in_series_order(point: Point) -> tuple[int, datetime]:
    return (point.session_number, point.administered_at)


def _record(
    state: CaseState, event: ResponseSubmitted, scored: ResponseScored, config: ClinicalConfig
) -> CaseState:
    """The response's point in its dyad's series, and what it moves: the dyad's ruptures and
    trend (alliance instruments), the outcome series (outcome instruments), critical items."""
    p = scored.payload
    instrument = REGISTRY[p.instrument]
    point = Point(
        session_number=p.session_number,
        administered_at=p.administered_at,
        total=p.total,
        normalized=p.normalized,
        subscales=p.subscales,
        source_event_id=p.source_event_id,
    )
    key = str(p.dyad.dyad_id)
    dyad = state.dyads.get(key) or DyadState(dyad=p.dyad)
    prior = dyad.series.get(p.instrument, ())
    if not prior or _in_series_order(prior[-1]) <= _in_series_order(point):
        series = (*prior, point)  # what the stable sort gives when the point comes last
    else:
        series = tuple(sorted((*prior, point), key=_in_series_order))
    ruptures_now, trend_now, early_low = dyad.ruptures, dyad.trend, dyad.early_low
    # Alliance rules judge the latest administration (in a fold in clinical order, the new one).
    if instrument.construct is Construct.ALLIANCE and series[-1] == point:
        ruptures_now = ruptures.advance_ruptures(
            ruptures_now, p.dyad.dyad_id, instrument, series, point, config
        )
        trend_now = trend.evolve(instrument, series, config) or trend_now
        early_low = early_alliance.evolve(early_low, instrument, point, config)
    dyad = copy_with(
        dyad,
        series={**dyad.series, p.instrument: series},
        ruptures=ruptures_now,
        trend=trend_now,
        early_low=early_low,
        responses=dyad.responses + 1,
    )
    outcomes = state.outcomes
    if instrument.construct is Construct.OUTCOME:
        outcomes = outcome.evolve(outcomes, instrument, p, point, state.demographics, config)
    return copy_with(
        state,
        dyads={**state.dyads, key: dyad},
        outcomes=outcomes,
        latest_session=max(state.latest_session, p.session_number),
        critical_items=critical_items.evolve(p),
    )


def decide(
    before: CaseState,
    after: CaseState,
    event: Effective,
    scored: ResponseScored | None,
    config: ClinicalConfig,
) -> list[ClinicalSignal]:
    """The derived events of one step: what changed between `before` and `after`, by every
    rule's detector in registry order."""
    step = Step(before=before, after=after, event=event, scored=scored, config=config)
    return [signal for detect in DETECTORS for signal in detect(step)]
