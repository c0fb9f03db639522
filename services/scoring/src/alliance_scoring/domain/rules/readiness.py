"""Termination readiness: decision support, not a verdict. Pure.

Inputs: the case's outcome series (the client's when there are any), its ruptures and its
client and parent trends. Ready when an outcome series is recovered over
`readiness_consecutive_recovered` consecutive administrations, no rupture is open and no alliance
is declining; switch `termination_readiness` (docs/clinical.md, 3.12). Evolves:
`CaseState.readiness`. Detects: `termination_ready` when the case becomes ready.
"""

from __future__ import annotations

from alliance_contracts.clinical_config import ClinicalConfig
from alliance_contracts.events import ClinicalSignal, RuleEvidence
from alliance_contracts.vocabulary import (
    EpisodeStatus,
    RespondentRole,
    RuleName,
    Severity,
    SignalKind,
)
from alliance_scoring.domain.state import CaseState, Readiness
from alliance_scoring.domain.step import Step

ENDED = Readiness(ready=False, reasons=("episode ended",))


def evolve(state: CaseState, config: ClinicalConfig) -> Readiness:
    """Recovered over consecutive administrations, no open rupture, and an alliance that is not
    declining."""
    if (
        not config.enabled(RuleName.TERMINATION_READINESS)
        or state.episode.status == EpisodeStatus.ENDED
    ):
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


def detect(step: Step) -> list[ClinicalSignal]:
    after, config = step.after, step.config
    if not after.readiness.ready or step.before.readiness.ready:
        return []
    evidence = RuleEvidence(
        rule=RuleName.TERMINATION_READINESS,
        inputs={"reasons": list(after.readiness.reasons), "session_number": after.latest_session},
        threshold=config.readiness_consecutive_recovered.value,
        citation=config.readiness_consecutive_recovered.source,
    )
    return [
        step.signal(
            SignalKind.TERMINATION_READY,
            "readiness",
            "consider planning termination (decision support)",
            [evidence],
            session=after.latest_session,
            severity=Severity.LOW,
        )
    ]
