"""Events already in the log still read (docs/decisions/0007): clinical signals written before
their typed fields existed, evidence under the rule names used before they were unified, and
scored responses from before their clinical range was recorded."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pydantic
import pytest

from alliance_alerts.domain.rules import on_scoring
from alliance_contracts.clinical_config import DEFAULT_CONFIG, RULES, ClinicalConfig
from alliance_contracts.events import ClinicalSignal, DyadPair, PhaseChange, ResponseScored
from alliance_contracts.vocabulary import AlertKind, Phase, RuleName

CHILD, PARENT = uuid.uuid4(), uuid.uuid4()


def old_signal(kind: str, rule: str, inputs: dict[str, Any]) -> ClinicalSignal:
    """A signal as scoring wrote it before issue 9: no series, split or phase_change."""
    return ClinicalSignal.model_validate_json(
        json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "event_type": "clinical.signal",
                "schema_version": 1,
                "clinic_id": "clinic-a",
                "case_id": "c1",
                "occurred_at": "2026-01-05T15:00:00+00:00",
                "recorded_at": "2026-01-05T15:00:00+00:00",
                "config_version": 0,
                "payload": {
                    "kind": kind,
                    "dyad": None,
                    "instrument": "ORS",
                    "session_number": 2,
                    "source_event_id": str(uuid.uuid4()),
                    "severity": "high",
                    "summary": "s",
                    "evidence": [{"rule": rule, "inputs": inputs, "threshold": 5, "citation": "c"}],
                },
            }
        )
    )


def test_an_old_deterioration_signal_reads_with_its_series_and_unified_rule_name() -> None:
    signal = old_signal("deteriorated", "reliable_deterioration", {"series": "ORS:client"})
    assert signal.payload.series == "ORS:client"
    assert signal.payload.evidence[0].rule is RuleName.DETERIORATION
    [alert] = on_scoring(signal, {}, DEFAULT_CONFIG, "th-1")
    assert (alert.kind, alert.subject) == (AlertKind.DETERIORATION, "ORS:client")


def test_old_off_track_and_critical_item_evidence_names_read_as_their_rules() -> None:
    off = old_signal("off_track", "not_on_track", {"series": "ORS:client"})
    assert off.payload.evidence[0].rule is RuleName.OFF_TRACK
    critical = old_signal("critical_item", "critical_item_endorsed", {"items": [8]})
    assert critical.payload.evidence[0].rule is RuleName.CRITICAL_ITEMS


def test_an_old_split_signal_reads_with_its_pair() -> None:
    inputs = {"gap": 0.3, "child_dyad_id": str(CHILD), "parent_dyad_id": str(PARENT)}
    signal = old_signal("split_detected", "split_alliance", inputs)
    assert signal.payload.split == DyadPair(child_dyad_id=CHILD, parent_dyad_id=PARENT)
    [alert] = on_scoring(signal, {}, DEFAULT_CONFIG, "th-1")
    assert alert.subject == f"{CHILD}:{PARENT}"


def test_an_old_phase_signal_reads_with_its_change() -> None:
    signal = old_signal("phase_changed", "phase_boundaries", {"from": "work", "to": "closed"})
    assert signal.payload.phase_change == PhaseChange(from_phase=Phase.WORK, to_phase=Phase.CLOSED)


def test_stored_configurations_name_the_switches_as_before() -> None:
    stored = {"rules_enabled": {"deterioration": False, "off_track": True, "critical_items": True}}
    config = ClinicalConfig.model_validate(stored)
    assert not config.enabled(RuleName.DETERIORATION)
    assert config.model_dump(mode="json")["rules_enabled"] == stored["rules_enabled"]
    assert [str(r) for r in RULES] == [
        "below_cutoff",
        "drop_from_previous",
        "reliable_drop",
        "sudden_loss",
        "split_alliance",
        "deterioration",
        "off_track",
        "critical_items",
        "termination_readiness",
    ]
    with pytest.raises(pydantic.ValidationError, match="unknown rules"):
        ClinicalConfig.model_validate({"rules_enabled": {"phase_boundaries": False}})


def test_a_response_scored_before_clinical_ranges_reads_without_one() -> None:
    scored = ResponseScored.model_validate_json(
        json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "event_type": "response.scored",
                "schema_version": 1,
                "clinic_id": "clinic-a",
                "case_id": "c1",
                "occurred_at": "2026-01-05T15:00:00+00:00",
                "recorded_at": "2026-01-05T15:00:00+00:00",
                "payload": {
                    "source_event_id": str(uuid.uuid4()),
                    "dyad": {
                        "dyad_id": str(uuid.uuid4()),
                        "therapist_id": "th-1",
                        "respondent_role": "client",
                    },
                    "instrument": "ORS",
                    "form": "client",
                    "session_number": 1,
                    "administered_at": "2026-01-05T15:00:00+00:00",
                    "total": 20.0,
                    "subscales": {},
                    "normalized": 0.5,
                    "scoring_key": "ORS v1",
                    "prorated_items": [],
                    "critical_items": [],
                },
            }
        )
    )
    assert scored.payload.clinical_range is None
