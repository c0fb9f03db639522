"""Pure alert rules: `decide(scored, open alerts, config) -> alert or nothing`."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from alliance_shared.events import (
    AlertKind,
    AlertRaised,
    AlertRaisedPayload,
    ResponseScored,
    RuleEvidence,
    derived_event_id,
)


@dataclass(frozen=True)
class Threshold:
    """A clinical number with where it comes from. Defaults: ../shared/reference/instruments.md."""

    value: float
    citation: str


@dataclass(frozen=True)
class AlertConfig:
    srs_cutoff: Threshold = Threshold(
        36.0,
        "Duncan et al. 2003 / PCOMS: SRS total below 36 flags a possible alliance problem [C]",
    )


LOW_ALLIANCE_RULE = "srs_total_below_cutoff"


def decide(
    scored: ResponseScored, open_kinds: Set[AlertKind], config: AlertConfig
) -> AlertRaised | None:
    """Raises a low-alliance alert when the SRS total is below the cut-off and the dyad has no
    open alert of that kind already (one open alert per kind per dyad)."""
    p = scored.payload
    if p.instrument != "SRS" or p.total >= config.srs_cutoff.value:
        return None
    if AlertKind.LOW_ALLIANCE in open_kinds:
        return None
    alert_id = derived_event_id("alert", AlertKind.LOW_ALLIANCE.value, scored.event_id)
    return AlertRaised(
        event_id=alert_id,
        clinic_id=scored.clinic_id,
        case_id=scored.case_id,
        occurred_at=scored.occurred_at,
        recorded_at=scored.recorded_at,
        payload=AlertRaisedPayload(
            alert_id=alert_id,
            kind=AlertKind.LOW_ALLIANCE,
            dyad=p.dyad,
            instrument=p.instrument,
            session_number=p.session_number,
            source_event_id=scored.event_id,
            evidence=RuleEvidence(
                rule=LOW_ALLIANCE_RULE,
                inputs={"total": p.total, "session_number": p.session_number},
                threshold=config.srs_cutoff.value,
                citation=config.srs_cutoff.citation,
            ),
        ),
    )
