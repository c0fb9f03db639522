"""Phases of a case: foundation, work, termination, closed. Pure.

Inputs: the episode, readiness and the latest session number of the case (any instrument, any
respondent). Threshold: `foundation_sessions`; no switch (docs/clinical.md, 3.13). Evolves:
`CaseState.phase`. Detects: `phase_changed` on every change (rule `phase_boundaries`).
"""

from __future__ import annotations

from alliance_contracts.clinical_config import ClinicalConfig
from alliance_contracts.events import ClinicalSignal, PhaseChange, RuleEvidence
from alliance_contracts.vocabulary import EpisodeStatus, Phase, RuleName, SignalKind
from alliance_scoring.domain.state import CaseState, Readiness
from alliance_scoring.domain.step import Step


def evolve(state: CaseState, readiness: Readiness, config: ClinicalConfig) -> Phase:
    if state.episode.status == EpisodeStatus.ENDED:
        return Phase.CLOSED
    if readiness.ready:
        return Phase.TERMINATION
    return (
        Phase.FOUNDATION if state.latest_session <= config.foundation_sessions.value else Phase.WORK
    )


def detect(step: Step) -> list[ClinicalSignal]:
    before, after, config = step.before, step.after, step.config
    if after.phase == before.phase:
        return []
    evidence = RuleEvidence(
        rule=RuleName.PHASE_BOUNDARIES,
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
    return [
        step.signal(
            SignalKind.PHASE_CHANGED,
            f"{before.phase}->{after.phase}",
            f"phase {before.phase} -> {after.phase}",
            [evidence],
            session=after.latest_session,
            phase_change=PhaseChange(from_phase=before.phase, to_phase=after.phase),
        )
    ]
