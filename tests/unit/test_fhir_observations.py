"""Scores as FHIR Observations on the gateway (decision 0028): each resource it can serve
validates with `fhir.resources` (R4B models), totals and subscales are exact, the status follows
the response's corrections, and the search parameters are read or refused by name."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome

from alliance_contracts.events import ClinicalRange
from alliance_contracts.fhir import INSTRUMENT_CODE_SYSTEM
from alliance_contracts.readmodels import DyadScore
from alliance_gateway.adapters.queries import ScoreOfCase
from alliance_gateway.application.observations import (
    INTERPRETATION_SYSTEM,
    SUBSCALE_CODE_SYSTEM,
    observation,
)
from alliance_gateway.entrypoints.fhir import OBSERVATIONS, BadSearch, outcome, parse_search
from alliance_gateway.entrypoints.fhir_capabilities import CAPABILITY_STATEMENT

T0 = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)


def row(
    instrument: str = "WAI-SR",
    total: float = 0.1 + 0.2 + 36.4,  # a float sum's artefact: 36.699999999999996
    subscales: dict[str, float] | None = None,
    status: str = "current",
    amends: bool = False,
    judged: ClinicalRange | None = None,
    response_id: uuid.UUID | None = None,
) -> ScoreOfCase:
    version = uuid.uuid4()
    score = DyadScore(
        source_event_id=version,
        response_id=response_id or version,
        dyad_id=uuid.uuid4(),
        clinic_id="c1",
        instrument=instrument,
        form="client",
        session_number=3,
        administered_at=T0,
        total=total,
        subscales=subscales if subscales is not None else {"task": 12.3, "bond": 14.0},
        normalized=0.5,
        scoring_key="WAI-SR/2006",
        clinical_range=judged,
        status=status,
    )
    return ScoreOfCase(score, "case-7", amends)


def test_a_score_is_an_observation_with_exact_values_and_subscales_as_components() -> None:
    found = row()
    resource = observation(found)
    parsed = Observation.model_validate(resource)
    assert (parsed.status, parsed.id) == ("final", str(found.score.source_event_id))
    assert resource["code"]["coding"] == [{"system": INSTRUMENT_CODE_SYSTEM, "code": "WAI-SR"}]
    assert resource["subject"] == {"reference": "Patient/case-7"}
    assert resource["effectiveDateTime"] == "2026-10-01T09:30:00+00:00"
    assert resource["derivedFrom"] == [
        {"reference": f"QuestionnaireResponse/{found.score.source_event_id}"}
    ]
    text = json.dumps(resource)
    assert '"value": 36.7,' in text
    assert "36.69" not in text
    assert [
        (
            c["code"]["coding"][0]["system"],
            c["code"]["coding"][0]["code"],
            c["valueQuantity"]["value"],
        )
        for c in resource["component"]
    ] == [(SUBSCALE_CODE_SYSTEM, "WAI-SR.bond", 14.0), (SUBSCALE_CODE_SYSTEM, "WAI-SR.task", 12.3)]
    assert "interpretation" not in resource  # an alliance measure has no clinical cut-off


@pytest.mark.parametrize(
    ("clinical", "code"), [(True, "A"), (False, "N")], ids=["clinical", "functional"]
)
def test_the_clinical_range_is_the_interpretation(clinical: bool, code: str) -> None:
    judged = ClinicalRange(cutoff=25.0, clinical=clinical, age_group="adult")
    resource = observation(row("ORS", 21.5, {}, judged=judged))
    Observation.model_validate(resource)
    [interpretation] = resource["interpretation"]
    assert interpretation["coding"][0]["system"] == INTERPRETATION_SYSTEM
    assert interpretation["coding"][0]["code"] == code
    assert "cut-off 25" in interpretation["text"]
    assert "adult" in interpretation["text"]
    assert "component" not in resource


@pytest.mark.parametrize(
    ("status", "amends", "served"),
    [
        ("current", False, "final"),
        ("current", True, "amended"),
        ("voided", False, "entered-in-error"),
    ],
)
def test_the_status_follows_the_responses_corrections(
    status: str, amends: bool, served: str
) -> None:
    assert (
        Observation.model_validate(observation(row(status=status, amends=amends))).status == served
    )


def test_an_amendments_score_is_derived_from_that_version_of_the_original_response() -> None:
    original = uuid.uuid4()
    found = row(amends=True, response_id=original)
    resource = observation(found)
    parsed = Observation.model_validate(resource)
    assert parsed.status == "amended"
    assert resource["derivedFrom"] == [
        {"reference": f"QuestionnaireResponse/{original}/_history/{found.score.source_event_id}"}
    ]


def test_a_score_of_a_generation_without_the_response_column_is_derived_from_its_source() -> None:
    # While scoring's version 11 builds beside a live 10, the views show response_id as NULL.
    found = row()
    score = found.score.model_copy(update={"response_id": None})
    resource = observation(ScoreOfCase(score, found.case_id, found.amends))
    Observation.model_validate(resource)
    assert resource["derivedFrom"] == [
        {"reference": f"QuestionnaireResponse/{score.source_event_id}"}
    ]


def test_the_capability_statement_and_outcomes_validate() -> None:
    statement = CapabilityStatement.model_validate(CAPABILITY_STATEMENT)
    [rest] = statement.rest or []
    served = {r.type: [i.code for i in r.interaction or []] for r in rest.resource or []}
    assert served == {
        "Questionnaire": ["read", "search-type"],
        "QuestionnaireResponse": ["create"],
        "Observation": ["read", "search-type"],
    }
    assert [i.code for i in rest.interaction or []] == ["transaction"]
    observation_params = next(r for r in rest.resource or [] if r.type == "Observation")
    assert {p.name for p in observation_params.searchParam or []} == {
        "subject", "code", "date", "_count", "_cursor",
    }  # fmt: skip
    OperationOutcome.model_validate(outcome("not-supported", "x: why", "x"))


def test_search_parameters_are_read() -> None:
    cursor = OBSERVATIONS.cursor((T0, uuid.UUID(int=1)))
    asked = parse_search(
        [
            ("subject", "Patient/case-7"),
            ("code", f"SRS,{INSTRUMENT_CODE_SYSTEM}|ORS"),
            ("date", "ge2026-10-01"),
            ("date", "lt2026-11-01T00:00:00+00:00"),
            ("_count", "2"),
            ("_cursor", cursor),
        ]
    )
    assert asked.case_id == "case-7"
    assert asked.instruments == ("SRS", "ORS")
    assert (asked.since, asked.before) == (
        T0.replace(hour=0, minute=0),
        datetime(2026, 11, 1, tzinfo=UTC),
    )
    assert (asked.count, asked.after) == (2, (T0, uuid.UUID(int=1)))
    day = parse_search([("date", "2026-10-01")])  # eq a day: the whole (UTC) day
    assert (day.since, day.before) == (
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2026, 10, 2, tzinfo=UTC),
    )
    after_day = parse_search([("date", "gt2026-10-01"), ("date", "le2026-10-03")])
    assert (after_day.since, after_day.before) == (
        datetime(2026, 10, 2, tzinfo=UTC),
        datetime(2026, 10, 4, tzinfo=UTC),
    )
    assert parse_search([]) == type(asked)()  # no subject: every case in the caller's scope


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ([("patient", "case-7")], "patient"),
        ([("subject", "Patient/Jane Doe")], "subject"),
        ([("subject", "a"), ("subject", "b")], "subject"),
        ([("code", "http://loinc.org|1234-5")], "code"),
        ([("code", "X" * 33)], "code"),
        ([("code", ",".join(["SRS"] * 21))], "code"),
        ([("date", "sa2026-10-01")], "date"),
        ([("date", "2026-10-01T09:00:00")], "date"),  # no time zone
        ([("date", "yesterday")], "date"),
        ([("_count", "0")], "_count"),
        ([("_count", "201")], "_count"),
        ([("_cursor", "bm90LWEtY3Vyc29y")], "_cursor"),
    ],
)
def test_unknown_or_unreadable_parameters_are_refused_by_name(
    params: list[tuple[str, str]], named: str
) -> None:
    with pytest.raises(BadSearch) as refused:
        parse_search(params)
    assert refused.value.parameter == named
