"""Critical items: OQ-45.2 answers that need same-day follow-up. Pure.

Inputs: the scored response's endorsed critical items (items 8, 11, 26, 32, 44 answered above
"never"; the list is in the instrument registry). Threshold 0; switch `critical_items`
(docs/clinical.md, 3.11). Evolves: `CaseState.critical_items` (of the latest response). Detects:
`critical_item` on every response that endorses one.
"""

from __future__ import annotations

from alliance_contracts.events import ClinicalSignal, ResponseScoredPayload, RuleEvidence
from alliance_contracts.vocabulary import RuleName, Severity, SignalKind
from alliance_scoring.domain.step import Step

CITATION = (
    "OQ-45.2 critical items 8, 11, 26, 32, 44: any answer other than never needs same-day "
    "follow-up [P]"
)


def evolve(scored: ResponseScoredPayload) -> tuple[int, ...]:
    return tuple(scored.critical_items)


def detect(step: Step) -> list[ClinicalSignal]:
    scored = step.scored
    if scored is None or not scored.payload.critical_items:
        return []
    if not step.config.enabled(RuleName.CRITICAL_ITEMS):
        return []
    p = scored.payload
    evidence = RuleEvidence(
        rule=RuleName.CRITICAL_ITEMS,
        inputs={"items": p.critical_items, "session_number": p.session_number},
        threshold=0,
        citation=CITATION,
    )
    return [
        step.signal(
            SignalKind.CRITICAL_ITEM,
            "critical",
            f"{p.instrument} critical items endorsed: {p.critical_items}; same-day follow-up",
            [evidence],
            dyad=p.dyad,
            instrument=p.instrument,
            session=p.session_number,
            severity=Severity.HIGH,
        )
    ]
