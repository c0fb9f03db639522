from __future__ import annotations

import uuid
from datetime import UTC, datetime

from alliance_alerts.domain.rules import AlertConfig, Threshold, decide
from alliance_shared.events import (
    AlertKind,
    DyadRef,
    RespondentRole,
    ResponseScored,
    ResponseScoredPayload,
)

T0 = datetime(2026, 9, 1, tzinfo=UTC)
DYAD = DyadRef(dyad_id=uuid.uuid4(), therapist_id="th-1", respondent_role=RespondentRole.CLIENT)


def scored(total: float, instrument: str = "SRS") -> ResponseScored:
    return ResponseScored(
        event_id=uuid.uuid4(),
        clinic_id="c",
        case_id="k",
        occurred_at=T0,
        recorded_at=T0,
        payload=ResponseScoredPayload(
            source_event_id=uuid.uuid4(),
            dyad=DYAD,
            instrument=instrument,
            form="client",
            session_number=4,
            administered_at=T0,
            total=total,
            subscales={},
            normalized=total / 40,
            scoring_key=f"{instrument}/x",
        ),
    )


def test_srs_below_cutoff_raises_with_its_evidence() -> None:
    event = scored(35.9)
    alert = decide(event, set(), AlertConfig())
    assert alert is not None
    assert alert.payload.kind == AlertKind.LOW_ALLIANCE
    assert alert.payload.evidence.threshold == 36
    assert alert.payload.evidence.inputs == {"total": 35.9, "session_number": 4}
    assert "Duncan" in alert.payload.evidence.citation
    assert decide(event, set(), AlertConfig()) == alert  # deterministic id and content


def test_at_or_above_cutoff_raises_nothing() -> None:
    assert decide(scored(36.0), set(), AlertConfig()) is None


def test_no_second_alert_while_one_is_open() -> None:
    assert decide(scored(20.0), {AlertKind.LOW_ALLIANCE}, AlertConfig()) is None


def test_other_instruments_are_ignored() -> None:
    assert decide(scored(20.0, "WAI-SR"), set(), AlertConfig()) is None


def test_cutoff_comes_from_configuration() -> None:
    config = AlertConfig(srs_cutoff=Threshold(30.0, "clinic policy"))
    assert decide(scored(32.0), set(), config) is None
    alert = decide(scored(29.0), set(), config)
    assert alert is not None
    assert alert.payload.evidence.citation == "clinic policy"
