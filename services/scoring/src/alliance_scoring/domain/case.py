"""The case fold: `apply(state, event, config) -> state` and
`decide(before, after, event, scored) -> signals`. Pure: no I/O, no clock, no randomness.

One case's events arrive in order (they share a Kafka partition: the key is the case id), so
folding them in order gives the same state however other cases' events interleave.
"""

from __future__ import annotations

from collections.abc import Iterable

from alliance_contracts.clinical_config import ClinicalConfig
from alliance_contracts.events import (
    CaseInput,
    ClinicalSignal,
    ClinicalSignalPayload,
    DyadRef,
    EpisodeEnded,
    ResponseScored,
    ResponseSubmitted,
    RuleEvidence,
    derived_event_id,
)
from alliance_contracts.instruments import REGISTRY, Construct, Instrument
from alliance_contracts.vocabulary import (
    EpisodeStatus,
    Phase,
    RespondentRole,
    RuptureStatus,
    Severity,
    SignalKind,
)
from alliance_scoring.domain.outcome import advance_outcome
from alliance_scoring.domain.ruptures import advance_ruptures
from alliance_scoring.domain.state import (
    CaseState,
    DyadState,
    Episode,
    Point,
    Readiness,
    SplitState,
    Trend,
)
from alliance_scoring.domain.stats import slope


def new_case(clinic_id: str, case_id: str) -> CaseState:
    return CaseState(clinic_id=clinic_id, case_id=case_id)


def apply(
    state: CaseState, event: CaseInput, scored: ResponseScored | None, config: ClinicalConfig
) -> CaseState:
    """Folds one event. A response comes with its score (`dyads.score`)."""
    if isinstance(event, EpisodeEnded):
        ended = Episode(
            status=EpisodeStatus.ENDED, ending=event.payload.ending, ended_at=event.payload.ended_at
        )
        readiness = Readiness(ready=False, reasons=("episode ended",))
        return state.model_copy(
            update={"episode": ended, "phase": Phase.CLOSED, "readiness": readiness}
        )
    assert scored is not None
    state = _record_response(state, event, scored, config)
    state = _with_discrepancies(state)
    state = state.model_copy(update={"splits": _splits(state, config)})
    readiness = _readiness(state, config)
    return state.model_copy(
        update={"readiness": readiness, "phase": _phase(state, readiness, config)}
    )


def _record_response(
    state: CaseState, event: ResponseSubmitted, scored: ResponseScored, config: ClinicalConfig
) -> CaseState:
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
    series = tuple(
        sorted(
            (*dyad.series.get(p.instrument, ()), point),
            key=lambda x: (x.session_number, x.administered_at),
        )
    )
    is_latest = series[-1] == point
    ruptures, trend = dyad.ruptures, dyad.trend
    if instrument.construct is Construct.ALLIANCE and is_latest:
        ruptures = advance_ruptures(ruptures, p.dyad.dyad_id, instrument, series, point, config)
        trend = _trend(instrument, series, config) or trend
    dyad = dyad.model_copy(
        update={
            "series": {**dyad.series, p.instrument: series},
            "ruptures": ruptures,
            "trend": trend,
            "responses": dyad.responses + 1,
        }
    )
    outcomes = dict(state.outcomes)
    if instrument.construct is Construct.OUTCOME:
        # One series per respondent: two caregivers' CORS are two series.
        outcome_key = f"{p.instrument}:{p.dyad.respondent_role.value}"
        if p.dyad.respondent_id:
            outcome_key += f":{p.dyad.respondent_id}"
        outcome = advance_outcome(
            outcomes.get(outcome_key),
            instrument,
            p.dyad.respondent_role.value,
            p.dyad.respondent_id,
            point,
            event.payload.age_group,
            config,
        )
        if outcome is not None:
            outcomes[outcome_key] = outcome
    return state.model_copy(
        update={
            "dyads": {**state.dyads, key: dyad},
            "outcomes": outcomes,
            "latest_session": max(state.latest_session, p.session_number),
            "critical_items": tuple(p.critical_items),
        }
    )


def _trend(
    instrument: Instrument, series: tuple[Point, ...], config: ClinicalConfig
) -> Trend | None:
    window = series[-int(config.trend_window_sessions.value) :]
    if len(window) < 3:
        return None
    value = slope([p.session_number for p in window], [p.normalized for p in window])
    if value is None:
        return None
    return Trend(
        instrument=instrument.code,
        slope_per_session=round(value, 4),
        sessions=len(window),
        declining=value < config.declining_slope.value,
    )


def _latest_alliance(dyad: DyadState) -> Point | None:
    """The dyad's latest alliance rating on any alliance instrument (0-1 scale)."""
    points = [
        s[-1] for code, s in dyad.series.items() if REGISTRY[code].construct is Construct.ALLIANCE
    ]
    return max(points, key=lambda x: (x.administered_at, x.session_number), default=None)


def _with_discrepancies(state: CaseState) -> CaseState:
    """Client (or parent) rating minus the therapist's own rating of the same alliance, on the
    0-1 scale, by the latest rating of each on the same instrument."""
    therapist_dyads = [
        d for d in state.dyads.values() if d.dyad.respondent_role is RespondentRole.THERAPIST
    ]
    dyads = dict(state.dyads)
    for key, dyad in state.dyads.items():
        if dyad.dyad.respondent_role is RespondentRole.THERAPIST:
            continue
        gap = None
        for t in therapist_dyads:
            if t.dyad.therapist_id != dyad.dyad.therapist_id:
                continue
            shared = set(t.series) & set(dyad.series)
            for code in sorted(shared):
                gap = round(dyad.series[code][-1].normalized - t.series[code][-1].normalized, 4)
        dyads[key] = dyad.model_copy(update={"discrepancy": gap})
    return state.model_copy(update={"dyads": dyads})


def _flagged(dyad: DyadState, config: ClinicalConfig) -> str | None:
    if any(r.is_open for r in dyad.ruptures):
        return "open rupture"
    latest = _latest_alliance(dyad)
    for code, points in dyad.series.items():
        cutoff = config.alliance_cutoffs.get(code)
        if cutoff and latest is not None and points[-1] == latest and latest.total < cutoff.value:
            return f"{code} below its cut-off"
    return None


def _splits(state: CaseState, config: ClinicalConfig) -> tuple[SplitState, ...]:
    """Child dyad vs each parent dyad of the same case (Robbins 2003; Shelef 2005)."""
    if not config.enabled("split_alliance"):
        return ()
    children = [d for d in state.dyads.values() if d.dyad.respondent_role is RespondentRole.CLIENT]
    parents = [d for d in state.dyads.values() if d.dyad.respondent_role is RespondentRole.PARENT]
    splits = []
    for child in children:
        for parent in parents:
            c, p = _latest_alliance(child), _latest_alliance(parent)
            if c is None or p is None:
                continue
            gap = round(p.normalized - c.normalized, 4)
            child_flag, parent_flag = _flagged(child, config), _flagged(parent, config)
            reason = None
            if abs(gap) >= config.split_gap.value:
                reason = f"gap {gap:+.2f} on the 0-1 scale (threshold {config.split_gap.value})"
            elif bool(child_flag) != bool(parent_flag):
                reason = f"child: {child_flag or 'fine'}; parent: {parent_flag or 'fine'}"
            splits.append(
                SplitState(
                    child_dyad_id=child.dyad.dyad_id,
                    parent_dyad_id=parent.dyad.dyad_id,
                    gap=gap,
                    active=reason is not None,
                    reason=reason,
                )
            )
    return tuple(splits)


def _readiness(state: CaseState, config: ClinicalConfig) -> Readiness:
    """Decision support, not a verdict: recovered over consecutive administrations, no open
    rupture, and an alliance that is not declining."""
    if not config.enabled("termination_readiness") or state.episode.status == EpisodeStatus.ENDED:
        return Readiness(ready=False)
    needed = int(config.readiness_consecutive_recovered.value)
    client_outcomes = [o for o in state.outcomes.values() if o.respondent_role == "client"]
    outcomes = client_outcomes or list(state.outcomes.values())
    reasons, blockers = [], []
    recovered = [o for o in outcomes if o.recovered_streak >= needed]
    if recovered:
        o = recovered[0]
        reasons.append(
            f"{o.instrument} recovered for {o.recovered_streak} consecutive "
            f"administrations (from {o.baseline.total:g} to {o.latest.total:g}; "
            f"cut-off {o.cutoff:g}, reliable change {o.reliable_change:g})"
        )
    else:
        blockers.append("outcome not recovered over consecutive administrations")
    open_ruptures = [r for d in state.dyads.values() for r in d.ruptures if r.is_open]
    if open_ruptures:
        blockers.append(f"{len(open_ruptures)} rupture(s) not repaired")
    else:
        reasons.append("no open rupture")
    declining = [
        d
        for d in state.dyads.values()
        if d.dyad.respondent_role is not RespondentRole.THERAPIST
        and d.trend is not None
        and d.trend.declining
    ]
    if declining:
        blockers.append("alliance declining")
    else:
        reasons.append("alliance not declining")
    ready = not blockers
    return Readiness(ready=ready, reasons=tuple(reasons if ready else blockers))


def _phase(state: CaseState, readiness: Readiness, config: ClinicalConfig) -> Phase:
    if state.episode.status == EpisodeStatus.ENDED:
        return Phase.CLOSED
    if readiness.ready:
        return Phase.TERMINATION
    return (
        Phase.FOUNDATION if state.latest_session <= config.foundation_sessions.value else Phase.WORK
    )


# ----------------------------------------------------------------------------- decide


def decide(
    before: CaseState,
    after: CaseState,
    event: CaseInput,
    scored: ResponseScored | None,
    config: ClinicalConfig,
) -> list[ClinicalSignal]:
    """The derived events of one step: what changed between `before` and `after`."""
    signals: list[ClinicalSignal] = []

    def emit(
        kind: SignalKind,
        subject: object,
        summary: str,
        evidence: Iterable[RuleEvidence],
        dyad: DyadRef | None = None,
        instrument: str | None = None,
        session: int | None = None,
        severity: str | None = None,
    ) -> None:
        signals.append(
            ClinicalSignal(
                event_id=derived_event_id("signal", kind.value, event.event_id, subject),
                clinic_id=after.clinic_id,
                case_id=after.case_id,
                occurred_at=event.occurred_at,
                recorded_at=event.recorded_at,
                config_version=event.config_version if isinstance(event, ResponseSubmitted) else 0,
                payload=ClinicalSignalPayload(
                    kind=kind,
                    dyad=dyad,
                    instrument=instrument,
                    session_number=session,
                    source_event_id=event.event_id,
                    severity=severity,
                    summary=summary,
                    evidence=list(evidence),
                ),
            )
        )

    for key, dyad in after.dyads.items():
        old = {r.rupture_id: r for r in before.dyads[key].ruptures} if key in before.dyads else {}
        for r in dyad.ruptures:
            was = old.get(r.rupture_id)
            role = dyad.dyad.respondent_role.value
            if was is None:
                emit(
                    SignalKind.RUPTURE_OPENED,
                    r.rupture_id,
                    f"{r.instrument} rupture opened at session {r.opened_session} ({role} rating)",
                    r.evidence,
                    dyad.dyad,
                    r.instrument,
                    r.opened_session,
                    r.severity,
                )
            elif was.status != r.status and r.status == RuptureStatus.REPAIRED:
                emit(
                    SignalKind.RUPTURE_REPAIRED,
                    r.rupture_id,
                    f"{r.instrument} rupture of session {r.opened_session} repaired at session "
                    f"{r.resolved_session}",
                    [
                        RuleEvidence(
                            rule="rupture_repaired",
                            threshold=r.target,
                            inputs={
                                "opened_session": r.opened_session,
                                "repaired_session": r.resolved_session,
                                "pre_rupture_level": r.target,
                            },
                            citation="repair: return to the pre-rupture level (V shape)",
                        )
                    ],
                    dyad.dyad,
                    r.instrument,
                    r.resolved_session,
                    r.severity,
                )
            elif was.status != r.status and r.status == RuptureStatus.UNRESOLVED:
                window = config.repair_window_sessions
                emit(
                    SignalKind.RUPTURE_ESCALATED,
                    r.rupture_id,
                    f"{r.instrument} rupture of session {r.opened_session} unresolved after "
                    f"{window.value:g} sessions",
                    [
                        RuleEvidence(
                            rule="rupture_unresolved",
                            threshold=window.value,
                            inputs={
                                "opened_session": r.opened_session,
                                "session_number": r.resolved_session,
                                "pre_rupture_level": r.target,
                            },
                            citation=window.source,
                        )
                    ],
                    dyad.dyad,
                    r.instrument,
                    r.resolved_session,
                    Severity.HIGH,
                )

    before_splits = {(s.child_dyad_id, s.parent_dyad_id): s for s in before.splits}
    for s in after.splits:
        was_split = before_splits.get((s.child_dyad_id, s.parent_dyad_id))
        if s.active and not (was_split and was_split.active):
            emit(
                SignalKind.SPLIT_DETECTED,
                f"{s.child_dyad_id}:{s.parent_dyad_id}",
                f"split alliance between child and parent: {s.reason}",
                [
                    RuleEvidence(
                        rule="split_alliance",
                        threshold=config.split_gap.value,
                        inputs={
                            "gap": s.gap,
                            "reason": s.reason,
                            "child_dyad_id": str(s.child_dyad_id),
                            "parent_dyad_id": str(s.parent_dyad_id),
                        },
                        citation=config.split_gap.source,
                    )
                ],
                session=after.latest_session,
                severity=Severity.MODERATE,
            )

    for key, o in after.outcomes.items():
        was_outcome = before.outcomes.get(key)
        inputs = {
            "baseline": o.baseline.total,
            "latest": o.latest.total,
            "improvement": o.improvement,
            "reliable_change": o.reliable_change,
            "cutoff": o.cutoff,
            "session_number": o.latest.session_number,
            "series": key,
        }
        if (
            o.outcome_class == "deteriorated"
            and config.enabled("deterioration")
            and (was_outcome is None or was_outcome.outcome_class != "deteriorated")
        ):
            emit(
                SignalKind.DETERIORATED,
                key,
                f"{o.instrument} reliably worse than at intake ({o.improvement:+g} points)",
                [
                    RuleEvidence(
                        rule="reliable_deterioration",
                        inputs=inputs,
                        threshold=o.reliable_change,
                        citation="Jacobson & Truax 1991",
                    )
                ],
                instrument=o.instrument,
                session=o.latest.session_number,
                severity=Severity.HIGH,
            )
        if o.on_track is False and (was_outcome is None or was_outcome.on_track is not False):
            emit(
                SignalKind.OFF_TRACK,
                key,
                f"{o.instrument} below the expected curve ({o.curve_band} intake band)",
                [
                    RuleEvidence(
                        rule="not_on_track",
                        inputs={
                            **inputs,
                            "expected_improvement": o.expected_improvement,
                            "tolerance": o.tolerance,
                            "band": o.curve_band,
                        },
                        # Not on track: improvement below expected minus the tolerance.
                        threshold=round((o.expected_improvement or 0.0) - (o.tolerance or 0.0), 3),
                        citation="expected curve gain*ln(session) by intake band "
                        "(Finch et al. 2001 method; approximation)",
                    )
                ],
                instrument=o.instrument,
                session=o.latest.session_number,
                severity=Severity.MODERATE,
            )

    if scored is not None and scored.payload.critical_items and config.enabled("critical_items"):
        p = scored.payload
        emit(
            SignalKind.CRITICAL_ITEM,
            "critical",
            f"{p.instrument} critical items endorsed: {p.critical_items}; same-day follow-up",
            [
                RuleEvidence(
                    rule="critical_item_endorsed",
                    inputs={"items": p.critical_items, "session_number": p.session_number},
                    threshold=0,
                    citation="OQ-45.2 critical items 8, 11, 26, 32, 44: any "
                    "answer other than never needs same-day follow-up [P]",
                )
            ],
            p.dyad,
            p.instrument,
            p.session_number,
            Severity.HIGH,
        )

    if after.readiness.ready and not before.readiness.ready:
        emit(
            SignalKind.TERMINATION_READY,
            "readiness",
            "consider planning termination (decision support)",
            [
                RuleEvidence(
                    rule="termination_readiness",
                    inputs={
                        "reasons": list(after.readiness.reasons),
                        "session_number": after.latest_session,
                    },
                    threshold=config.readiness_consecutive_recovered.value,
                    citation=config.readiness_consecutive_recovered.source,
                )
            ],
            session=after.latest_session,
            severity=Severity.LOW,
        )

    if after.phase != before.phase:
        emit(
            SignalKind.PHASE_CHANGED,
            f"{before.phase}->{after.phase}",
            f"phase {before.phase} -> {after.phase}",
            [
                RuleEvidence(
                    rule="phase_boundaries",
                    inputs={
                        "from": before.phase,
                        "to": after.phase,
                        "latest_session": after.latest_session,
                        "episode": after.episode.status,
                        "ready": after.readiness.ready,
                    },
                    threshold=config.foundation_sessions.value,
                    citation=config.foundation_sessions.source,
                )
            ],
            session=after.latest_session,
        )
    return signals
