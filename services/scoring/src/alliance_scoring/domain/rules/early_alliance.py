"""Early low alliance: an alliance score below its cut-off in the foundation phase, the early
warning of dropout. Pure.

Inputs: the dyad's latest score on an alliance instrument that has a cut-off (SRS, CSRS), its
session number, `alliance_cutoffs` and `foundation_sessions` (docs/clinical.md, 3.15). Evolves:
`DyadState.early_low` (flagged below the cut-off in sessions 1 to `foundation_sessions`, cleared
when a later score is at or above it). Detects: `early_low_alliance` when a dyad is flagged,
`early_low_alliance_cleared` when the flag clears. The alert kind `early_low_alliance` switches
whether an alert follows.
"""

from __future__ import annotations

from alliance_contracts.clinical_config import ClinicalConfig
from alliance_contracts.events import ClinicalSignal, RuleEvidence
from alliance_contracts.instruments import Instrument
from alliance_contracts.vocabulary import RuleName, Severity, SignalKind
from alliance_scoring.domain.state import Point
from alliance_scoring.domain.step import Step


def evolve(
    flagged: tuple[str, ...], instrument: Instrument, point: Point, config: ClinicalConfig
) -> tuple[str, ...]:
    cutoff = config.alliance_cutoffs.get(instrument.code)
    if cutoff is None:
        return flagged
    code = instrument.code
    if point.total >= cutoff.value:
        return tuple(c for c in flagged if c != code)
    if code in flagged or point.session_number > config.foundation_sessions.value:
        return flagged
    return (*flagged, code)


def detect(step: Step) -> list[ClinicalSignal]:
    scored = step.scored
    if scored is None:
        return []
    p = scored.payload
    key = str(p.dyad.dyad_id)
    was = step.before.dyads[key].early_low if key in step.before.dyads else ()
    now = step.after.dyads[key].early_low
    cutoff = step.config.alliance_cutoffs.get(p.instrument)
    if cutoff is None or (p.instrument in was) == (p.instrument in now):
        return []
    foundation = step.config.foundation_sessions.value
    if p.instrument in now:
        evidence = RuleEvidence(
            rule=RuleName.EARLY_LOW_ALLIANCE,
            inputs={
                "total": p.total,
                "session_number": p.session_number,
                "foundation_sessions": foundation,
            },
            threshold=cutoff.value,
            citation=f"{cutoff.source}; early alliance (sessions 1-{foundation:g}) predicts "
            "dropout",
        )
        return [
            step.signal(
                SignalKind.EARLY_LOW_ALLIANCE,
                p.instrument,
                f"{p.instrument} {p.total:g} below {cutoff.value:g} in session "
                f"{p.session_number} (foundation phase): dropout risk",
                [evidence],
                dyad=p.dyad,
                instrument=p.instrument,
                session=p.session_number,
                severity=Severity.MODERATE,
            )
        ]
    evidence = RuleEvidence(
        rule=RuleName.EARLY_LOW_ALLIANCE,
        inputs={"total": p.total, "session_number": p.session_number},
        threshold=cutoff.value,
        citation=cutoff.source,
    )
    return [
        step.signal(
            SignalKind.EARLY_LOW_ALLIANCE_CLEARED,
            p.instrument,
            f"{p.instrument} {p.total:g} back at or above {cutoff.value:g}",
            [evidence],
            dyad=p.dyad,
            instrument=p.instrument,
            session=p.session_number,
        )
    ]
