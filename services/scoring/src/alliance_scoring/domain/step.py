"""One folded event, as the rules' detectors see it, and how a detector writes a signal. Pure."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from alliance_contracts.clinical_config import ClinicalConfig
from alliance_contracts.events import (
    ClinicalSignal,
    ClinicalSignalPayload,
    DyadPair,
    DyadRef,
    PhaseChange,
    ResponseScored,
    ResponseSubmitted,
    RuleEvidence,
    derived_event_id,
)
from alliance_contracts.vocabulary import Severity, SignalKind
from alliance_scoring.domain.history import Effective
from alliance_scoring.domain.state import CaseState


@dataclass(frozen=True, slots=True)
class Step:
    """The state before and after one event, the event, its score (responses only) and the
    configuration in force."""

    before: CaseState
    after: CaseState
    event: Effective
    scored: ResponseScored | None
    config: ClinicalConfig

    def signal(
        self,
        kind: SignalKind,
        subject: object,
        summary: str,
        evidence: Iterable[RuleEvidence],
        *,
        dyad: DyadRef | None = None,
        instrument: str | None = None,
        session: int | None = None,
        severity: Severity | None = None,
        series: str | None = None,
        split: DyadPair | None = None,
        phase_change: PhaseChange | None = None,
    ) -> ClinicalSignal:
        """A signal of this step. Its id derives from the kind, the source event, the subject
        (what it is about within the case) and its content, so a replay repeats it, and a case
        folded again after a late or corrected input keeps the signals that still hold and
        withdraws those that changed (history.py)."""
        event = self.event
        payload = ClinicalSignalPayload(
            kind=kind,
            dyad=dyad,
            instrument=instrument,
            session_number=session,
            source_event_id=event.event_id,
            severity=severity,
            summary=summary,
            evidence=list(evidence),
            series=series,
            split=split,
            phase_change=phase_change,
        )
        content = hashlib.blake2b(payload.model_dump_json().encode(), digest_size=8).hexdigest()
        return ClinicalSignal(
            event_id=derived_event_id("signal", kind.value, event.event_id, subject, content),
            clinic_id=self.after.clinic_id,
            case_id=self.after.case_id,
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
            config_version=event.config_version if isinstance(event, ResponseSubmitted) else 0,
            payload=payload,
        )


# What a rule detects in one step: its signals, in a stable order.
Detector = Callable[[Step], list[ClinicalSignal]]
