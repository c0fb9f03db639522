"""Item answers are strict on every path (decision 0028): a JSON number or null, never a boolean
or a string, and every item of the form there, a blank sent as null where the instrument allows
blanks. The doors (submission, amendment, the gateway's request) and the events in Kafka."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from alliance_contracts.events import CaseInput, IntakeCommand, ResponseSubmitted
from alliance_contracts.instruments import OQ_45, Violation, score_response, validate_response
from alliance_contracts.vocabulary import RespondentRole
from alliance_intake.domain.correction import AmendResponse
from alliance_intake.domain.submission import SubmitResponse
from alliance_scoring.domain.dyads import score
from tests.unit.test_intake_use_cases import body

CLIENT = RespondentRole.CLIENT
NOT_NUMBERS = [True, False, "9.0", "9", [9], {"value": 9}]


def submission(answers: dict[str, Any]) -> dict[str, Any]:
    return body(answers=answers)


def srs(item_3: object) -> dict[str, Any]:
    return {"1": 9.1, "2": 8, "3": item_3, "4": 9.9}


def refused_item(raw: str, model: Any) -> list[tuple[object, ...]]:
    with pytest.raises(ValidationError) as refused:
        TypeAdapter(model).validate_json(raw)
    return [e["loc"] for e in refused.value.errors()]


@pytest.mark.parametrize("answer", NOT_NUMBERS)
def test_a_submission_refuses_a_boolean_or_a_string_naming_the_item(answer: object) -> None:
    raw = json.dumps(submission(srs(answer)))
    assert refused_item(raw, SubmitResponse) == [("answers", "3")]
    with pytest.raises(ValidationError):  # Python input too (the gateway's, the tests')
        SubmitResponse.model_validate(submission(srs(answer)))


def test_a_submission_takes_json_numbers_whole_or_decimal_and_null() -> None:
    parsed = SubmitResponse.model_validate_json(json.dumps(submission(srs(7))))
    assert parsed.answers == {1: 9.1, 2: 8.0, 3: 7.0, 4: 9.9}
    assert SubmitResponse.model_validate_json(json.dumps(submission(srs(None)))).answers[3] is None


@pytest.mark.parametrize("answer", NOT_NUMBERS)
def test_an_amendment_refuses_a_boolean_or_a_string_naming_the_item(answer: object) -> None:
    raw = json.dumps({"answers": srs(answer), "reason": "typo"})
    assert refused_item(raw, AmendResponse) == [("answers", "3")]


def envelope(event_type: str, payload: dict[str, Any]) -> str:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "schema_version": 1,
            "clinic_id": "clinic-north",
            "case_id": "case-0001",
            "occurred_at": "2026-11-20T15:00:00Z",
            "recorded_at": "2026-11-20T15:00:01Z",
            "payload": payload,
        }
    )


@pytest.mark.parametrize("answer", ["9.0", True])
def test_events_in_kafka_refuse_a_boolean_or_a_string_too(answer: object) -> None:
    """What the consumers decode: scoring's case inputs, intake's requests from the gateway."""
    fields = submission(srs(answer))
    payload = {k: v for k, v in fields.items() if k not in ("clinic_id", "case_id")}
    del payload["idempotency_key"]
    submitted = envelope("response.submitted", payload)
    assert refused_item(submitted, CaseInput) == [("response.submitted", "payload", "answers", "3")]
    amended = envelope(
        "response.amended",
        {"amends": str(uuid.uuid4()), "answers": srs(answer), "reason": "x", "amended_by": "u-1"},
    )
    assert refused_item(amended, CaseInput) == [("response.amended", "payload", "answers", "3")]
    requested = envelope(
        "response.amendment.requested",
        {
            "response_id": str(uuid.uuid4()),
            "answers": srs(answer),
            "reason": "x",
            "requested_by": "u-1",
        },
    )
    assert refused_item(requested, IntakeCommand) == [
        ("response.amendment.requested", "payload", "answers", "3")
    ]
    payload["answers"] = srs(7.5)  # the same event with a number passes
    assert TypeAdapter(CaseInput).validate_json(envelope("response.submitted", payload))


def test_an_item_left_out_is_required() -> None:
    assert validate_response("SRS", "client", CLIENT, {1: 9, 2: 9, 4: 9}) == [
        Violation("answers.3", "is required")
    ]


def test_an_oq45_item_left_out_is_refused_with_how_to_send_a_blank() -> None:
    answers: dict[int, float | None] = dict.fromkeys(range(1, 46), 1.0)
    del answers[14]
    problems = validate_response("OQ-45.2", "client", CLIENT, answers)
    assert problems == [
        Violation(
            "answers.14",
            "is required: send null to leave it blank (in FHIR, the item without an answer); "
            "OQ-45.2 allows at most 4 blank items",
        )
    ]
    answers[14] = None  # the same blank, sent as null, is prorated
    assert validate_response("OQ-45.2", "client", CLIENT, answers) == []
    assert score_response("OQ-45.2", answers).prorated_items == (14,)


def test_items_left_out_and_too_many_blanks_are_each_named() -> None:
    answers: dict[int, float | None] = dict.fromkeys(range(1, 46), 1.0)
    del answers[2]
    answers |= dict.fromkeys((1, 3, 5, 6, 7), None)
    problems = validate_response("OQ-45.2", "client", CLIENT, answers)
    assert [p.field for p in problems] == [f"answers.{i}" for i in (2, 1, 3, 5, 6, 7)]
    assert problems[0].rule.startswith("is required: send null")
    assert all("at most 4 blank items" in p.rule for p in problems[1:])


def test_a_response_already_in_the_log_with_an_item_left_out_scores_it_as_a_blank() -> None:
    """Intake accepted an OQ-45.2 item left out before 0028 and scoring prorated it: scoring
    reads it so still, so a replay gives what the live fold gave."""
    answers: dict[int, float | None] = dict.fromkeys(range(1, 46), 1.0)
    del answers[14]
    assert validate_response("OQ-45.2", "client", CLIENT, answers, left_out_is_blank=True) == []
    blank = {**answers, 14: None}
    assert score_response("OQ-45.2", answers) == score_response("OQ-45.2", blank)
    too_many = {i: v for i, v in answers.items() if i not in (1, 2, 3, 4)}
    lenient = validate_response("OQ-45.2", "client", CLIENT, too_many, left_out_is_blank=True)
    assert {p.field for p in lenient} == {f"answers.{i}" for i in (1, 2, 3, 4, 14)}
    assert OQ_45.missing.max_missing == 4


def test_scoring_folds_a_logged_oq45_item_left_out_as_the_blank_it_was() -> None:
    """The event as intake published it before 0028: scored, item 14 prorated, as it was."""
    answers: dict[str, Any] = {str(i): 1 for i in range(1, 46) if i != 14}
    payload = {
        "therapist_id": "th-07",
        "respondent_role": "client",
        "instrument": "OQ-45.2",
        "form": "client",
        "session_number": 1,
        "administered_at": "2026-11-20T15:00:00Z",
        "answers": answers,
    }
    event = TypeAdapter(CaseInput).validate_json(envelope("response.submitted", payload))
    assert isinstance(event, ResponseSubmitted)
    scored = score(event, event.recorded_at)
    assert scored.payload.prorated_items == [14]
    as_null = event.payload.model_copy(update={"answers": {**event.payload.answers, 14: None}})
    same = score(event.model_copy(update={"payload": as_null}), event.recorded_at)
    assert same.payload.total == scored.payload.total
