"""The QuestionnaireResponse mapping (decision 0028): a FHIR resource becomes the same domain
submission, amendment or void as the JSON routes, and every refusal names the element's
FHIRPath, the domain's rules included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from alliance_contracts.fhir import (
    CASE_SYSTEM,
    CLINIC_EXTENSION,
    REASON_EXTENSION,
    SESSION_EXTENSION,
    SESSION_SYSTEM,
    THERAPIST_EXTENSION,
    Issue,
    operation_outcome,
)
from alliance_contracts.vocabulary import RespondentRole
from alliance_intake.application.changes import CorrectByKey
from alliance_intake.domain.correction import AmendResponse, AsSent, VoidResponse
from alliance_intake.domain.submission import SubmitResponse, check_submission, fingerprint
from alliance_intake.entrypoints.fhir_mapping import Refused, fhirpath, map_response
from alliance_intake.entrypoints.requests import ResponseSubmission
from tests.helpers import T0
from tests.unit.test_intake_use_cases import body

CLINICS = frozenset({"clinic-north"})
SRS = "https://alliance.example/fhir/Questionnaire/srs-client|3.0"


def srs(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": "urn:ehr", "value": "ehr-qr-0001"},
        "status": "completed",
        "questionnaire": SRS,
        "subject": {"reference": "Patient/case-0001"},
        "source": {"reference": "Patient/case-0001"},
        "authored": "2026-11-20T15:00:00Z",
        "extension": [
            {"url": THERAPIST_EXTENSION, "valueReference": {"reference": "Practitioner/th-07"}},
            {"url": SESSION_EXTENSION, "valuePositiveInt": 3},
        ],
        "item": [
            {"linkId": "1", "answer": [{"valueDecimal": 9.1}]},
            {"linkId": "2", "answer": [{"valueDecimal": 8.5}]},
            {"linkId": "3", "answer": [{"valueInteger": 7}]},
            {"linkId": "4", "answer": [{"valueDecimal": 9.9}]},
        ],
    }
    resource.update(changes)
    QuestionnaireResponse.model_validate(resource)  # each test resource is valid structure
    return resource


def refused(resource: dict[str, Any], clinics: frozenset[str] = CLINICS) -> list[Issue]:
    with pytest.raises(Refused) as caught:
        map_response(resource, clinics)
    return caught.value.issues


def test_a_completed_response_is_the_json_submission() -> None:
    mapped = map_response(srs(), CLINICS)
    assert mapped.clinic_id == "clinic-north"
    as_json = ResponseSubmission.model_validate_json(
        json.dumps(
            body(answers={"1": 9.1, "2": 8.5, "3": 7, "4": 9.9}, idempotency_key="ehr-qr-0001")
        )
    )
    assert isinstance(mapped.change, SubmitResponse)
    assert mapped.change.model_dump() == as_json.model_dump()
    # The same content by either door is a repeat under the same key, not a conflict.
    assert fingerprint(mapped.change) == fingerprint(as_json)


def test_subject_by_identifier_parent_respondent_and_id_as_key() -> None:
    resource = srs(
        subject={"identifier": {"system": CASE_SYSTEM, "value": "case-0002"}},
        source={"reference": "RelatedPerson/mother-1"},
        questionnaire="https://alliance.example/fhir/Questionnaire/tasc-r-parent",
        item=[{"linkId": str(n), "answer": [{"valueInteger": 3}]} for n in range(1, 13)],
        id="qr-parent-0002",
    )
    del resource["identifier"]
    change = map_response(resource, CLINICS).change
    assert isinstance(change, SubmitResponse)
    assert (change.case_id, change.respondent_role, change.respondent_id) == (
        "case-0002",
        RespondentRole.PARENT,
        "mother-1",
    )
    assert (change.instrument, change.form, change.idempotency_key) == (
        "TASC-R",
        "parent",
        "qr-parent-0002",
    )


def test_a_practitioner_who_answers_is_the_therapist() -> None:
    resource = srs(
        questionnaire="https://alliance.example/fhir/Questionnaire/wai-sr-therapist",
        source={"reference": "Practitioner/th-07"},
        extension=[{"url": SESSION_EXTENSION, "valuePositiveInt": 2}],
        item=[{"linkId": str(n), "answer": [{"valueInteger": 4}]} for n in range(1, 13)],
    )
    change = map_response(resource, CLINICS).change
    assert isinstance(change, SubmitResponse)
    assert (change.respondent_role, change.therapist_id) == (RespondentRole.THERAPIST, "th-07")


def test_an_item_without_answer_is_a_blank() -> None:
    items: list[dict[str, Any]] = [
        {"linkId": str(n), "answer": [{"valueInteger": 2}]} for n in range(1, 46)
    ]
    items[4] = {"linkId": "5"}
    resource = srs(
        questionnaire="https://alliance.example/fhir/Questionnaire/oq-45.2-client", item=items
    )
    change = map_response(resource, CLINICS).change
    assert isinstance(change, SubmitResponse)
    assert change.answers[5] is None
    assert change.answers[6] == 2.0
    assert check_submission(change, T0.replace(year=2027)) == []


def test_amended_and_entered_in_error_are_corrections_of_the_key() -> None:
    amended = map_response(srs(status="amended"), CLINICS).change
    assert amended == CorrectByKey(
        "ehr-qr-0001",
        AmendResponse(
            answers={1: 9.1, 2: 8.5, 3: 7.0, 4: 9.9},
            reason="amended by the clinic system (FHIR status amended)",
        ),
        # What it says of the response, to be checked against the original's.
        AsSent("SRS", "client", "case-0001", RespondentRole.CLIENT, "case-0001"),
    )
    answers_only = srs(status="amended")
    del answers_only["subject"], answers_only["source"]
    change = map_response(answers_only, CLINICS).change
    assert isinstance(change, CorrectByKey)
    assert change.sent == AsSent("SRS", "client")
    reason = {"url": REASON_EXTENSION, "valueString": "keyed against the wrong client"}
    voided = map_response(srs(status="entered-in-error", extension=[reason]), CLINICS).change
    assert voided == CorrectByKey("ehr-qr-0001", VoidResponse(reason=reason["valueString"]))


def test_identifying_data_in_a_reference_is_refused() -> None:
    issues = refused(srs(subject={"reference": "Patient/case-0001", "display": "Jane Doe"}))
    assert [(i.expression, i.code) for i in issues] == [("subject.display", "security")]
    issues = refused(srs(source={"reference": "Patient/case-0001", "display": "Jane"}))
    assert [i.expression for i in issues] == ["source.display"]
    issues = refused(srs(subject={"identifier": {"system": "urn:mrn", "value": "123"}}))
    # Not Alliance's case system; and the Patient who answered is no longer the subject.
    assert [i.expression for i in issues] == ["subject.identifier", "source.reference"]
    assert all("Jane" not in i.diagnostics for i in issues)
    # A void reads neither reference, an amendment reads both (they must be the original's):
    # each refuses a name in one.
    for status in ("amended", "entered-in-error"):
        named = srs(status=status, source={"reference": "Patient/case-0001", "display": "Jane"})
        assert [i.expression for i in refused(named)] == ["source.display"]


def test_answers_are_numbers_named_by_their_path() -> None:
    items = srs()["item"]
    items[1] = {"linkId": "2", "answer": [{"valueString": "8.5"}]}
    items[2] = {"linkId": "3", "answer": [{"valueBoolean": True}]}
    items[3] = {"linkId": "x4", "answer": [{"valueDecimal": 9.9}]}
    issues = refused(srs(item=items))
    assert [i.expression for i in issues] == [
        "item[1].answer[0].valueString",
        "item[2].answer[0].valueBoolean",
        "item[3].linkId",
    ]
    # fhir.resources takes a decimal string: the mapping does not.
    items = srs()["item"]
    items[0] = {"linkId": "1", "answer": [{"valueDecimal": "9.1"}]}
    assert [i.expression for i in refused(srs(item=items))] == ["item[0].answer[0].valueDecimal"]


def test_the_domain_rules_come_back_at_the_element() -> None:
    """validate_response's fields (answers.N, administered_at...) mapped back to FHIRPath."""
    items = srs()["item"]
    items[2] = {"linkId": "3", "answer": [{"valueDecimal": 12.5}]}
    mapped = map_response(srs(item=[*items[:3], {"linkId": "4"}]), CLINICS)
    change = mapped.change
    assert isinstance(change, SubmitResponse)
    issues = mapped.issues(check_submission(change, T0.replace(year=2027)))
    assert [(i.expression, i.diagnostics) for i in issues] == [
        ("item[3]", "is required"),
        ("item[2].answer[0].valueDecimal", "must be between 0 and 10"),
    ]
    left_out = map_response(srs(item=items[:2]), CLINICS)
    assert isinstance(left_out.change, SubmitResponse)
    paths = {i.expression for i in left_out.issues(check_submission(left_out.change, T0))}
    assert paths == {"item", "authored"}  # items 3, 4 left out; authored after T0
    issues = refused(
        srs(extension=[{"url": SESSION_EXTENSION, "valuePositiveInt": 5000}, srs()["extension"][0]])
    )
    assert [i.expression for i in issues] == ["extension[0].valuePositiveInt"]


def test_what_is_missing_is_named() -> None:
    resource = srs(status="in-progress", extension=[])
    for element in ("subject", "authored", "questionnaire", "identifier"):
        del resource[element]
    issues = refused(resource)
    assert {(i.expression, i.code) for i in issues} >= {
        ("identifier", "required"),
        ("questionnaire", "required"),
        ("status", "value"),
        ("subject", "required"),
        ("authored", "required"),
        ("extension", "required"),
    }


def session(mapped: Any) -> int:
    change = map_response(mapped, CLINICS).change
    assert isinstance(change, SubmitResponse)
    return change.session_number


def test_the_session_number_from_the_encounter_or_the_extension() -> None:
    by_encounter = {"identifier": {"system": SESSION_SYSTEM, "value": "4"}}
    therapist = srs()["extension"][0]
    assert session(srs(encounter=by_encounter, extension=[therapist])) == 4
    typed = {**by_encounter, "type": "Encounter"}
    assert session(srs(encounter=typed, extension=[therapist])) == 4
    both = srs(encounter={"identifier": {"system": SESSION_SYSTEM, "value": "3"}})
    assert session(both) == 3  # the encounter and the extension agree
    # The clinic system's own Encounter says nothing of the session: the extension does.
    assert session(srs(encounter={"reference": "Encounter/visit-81"})) == 3
    disagree = refused(srs(encounter=by_encounter))
    assert [(i.expression, i.code) for i in disagree] == [("encounter.identifier.value", "invalid")]
    assert SESSION_EXTENSION in disagree[0].diagnostics
    for value in ("three", "0", "3.0"):
        not_a_number = {"identifier": {"system": SESSION_SYSTEM, "value": value}}
        issues = refused(srs(encounter=not_a_number, extension=[therapist]))
        assert [i.expression for i in issues] == ["encounter.identifier.value"]
    out_of_range = {"identifier": {"system": SESSION_SYSTEM, "value": "5000"}}
    issues = refused(srs(encounter=out_of_range, extension=[therapist]))
    assert [i.expression for i in issues] == ["encounter.identifier.value"]
    named = {**by_encounter, "display": "Visit of J. Doe"}
    issues = refused(srs(encounter=named, extension=[therapist]))
    assert [(i.expression, i.code) for i in issues] == [("encounter.display", "security")]
    neither = refused(srs(encounter={"reference": "Encounter/visit-81"}, extension=[therapist]))
    assert [(i.expression, i.code) for i in neither] == [("extension", "required")]
    assert SESSION_SYSTEM in neither[0].diagnostics


def test_the_clinic_from_the_token_or_the_extension() -> None:
    two = frozenset({"clinic-north", "clinic-south"})
    assert [i.expression for i in refused(srs(), two)] == ["extension"]
    named = srs(
        extension=[*srs()["extension"], {"url": CLINIC_EXTENSION, "valueString": "clinic-south"}]
    )
    assert map_response(named, two).clinic_id == "clinic-south"


def test_issues_under_a_bundle_entry_and_as_an_operation_outcome() -> None:
    assert fhirpath(("item", 2, "answer", 0, "valueDecimal")) == "item[2].answer[0].valueDecimal"
    issue = Issue("item[2].answer[0].valueDecimal", "must be between 0 and 10")
    under = issue.under("Bundle.entry[1].resource")
    assert under.expression == "Bundle.entry[1].resource.item[2].answer[0].valueDecimal"
    outcome = operation_outcome([under, Issue("", "the body is not JSON", "structure")])
    OperationOutcome.model_validate(outcome)
    assert outcome["issue"][0]["expression"] == [under.expression]
    assert "expression" not in outcome["issue"][1]


def test_the_example_bundle_in_the_docs_maps() -> None:
    text = (Path(__file__).parents[2] / "docs" / "fhir.md").read_text()
    example = text.split("### An example transaction Bundle")[1].split("```json")[1]
    bundle = json.loads(example.split("```")[0])
    Bundle.model_validate(bundle)
    changes = [map_response(e["resource"], CLINICS).change for e in bundle["entry"]]
    assert all(isinstance(c, SubmitResponse) for c in changes)
    assert [
        check_submission(c, T0.replace(year=2030)) for c in changes if isinstance(c, SubmitResponse)
    ] == [[], []]
