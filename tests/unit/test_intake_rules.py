from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from alliance_contracts.events import ResponseSubmitted, ResponseSubmittedPayload
from alliance_intake.domain.submission import (
    SubmissionReceipt,
    check_submission,
    fingerprint,
    to_event,
)
from alliance_intake.entrypoints.fast_path import receipt_body
from alliance_intake.entrypoints.requests import ResponseSubmission

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def body(**overrides: object) -> dict[str, object]:
    return {
        "clinic_id": "clinic-north",
        "case_id": "case-1",
        "therapist_id": "th-1",
        "respondent_role": "client",
        "instrument": "SRS",
        "form": "client",
        "session_number": 2,
        "administered_at": "2026-11-20T15:00:00Z",
        "answers": {"1": 9, "2": 9, "3": 9, "4": 9},
        "idempotency_key": "key-12345678",
        **overrides,
    }


def test_the_event_carries_the_envelope() -> None:
    submission = ResponseSubmission.model_validate(body())
    event_id = uuid.uuid4()
    accepted = to_event(submission, event_id, NOW)
    assert accepted.event.event_id == event_id
    assert accepted.event.clinic_id == "clinic-north"
    assert accepted.event.occurred_at == submission.administered_at
    assert accepted.event.recorded_at == NOW
    assert isinstance(accepted.event, ResponseSubmitted)
    assert accepted.event.payload.answers == {1: 9, 2: 9, 3: 9, 4: 9}


def test_future_administration_is_rejected() -> None:
    later = (NOW + timedelta(hours=1)).isoformat()
    submission = ResponseSubmission.model_validate(body(administered_at=later))
    assert [v.field for v in check_submission(submission, NOW)] == ["administered_at"]


@pytest.mark.parametrize("bad_id", ["Jane Doe", "jane@example.org", "", "x" * 65])
def test_ids_must_be_pseudonymous_tokens(bad_id: str) -> None:
    with pytest.raises(ValidationError, match="case_id"):
        ResponseSubmission.model_validate(body(case_id=bad_id))


def test_naive_times_are_rejected() -> None:
    with pytest.raises(ValidationError, match="administered_at"):
        ResponseSubmission.model_validate(body(administered_at="2026-11-20T15:00:00"))


def test_fingerprint_tells_content_apart() -> None:
    a = ResponseSubmission.model_validate(body())
    b = ResponseSubmission.model_validate(body(session_number=3))
    assert fingerprint(a) == fingerprint(ResponseSubmission.model_validate(body()))
    assert fingerprint(a) != fingerprint(b)


def test_the_fast_paths_receipt_is_the_response_models_rendering() -> None:
    for duplicate in (False, True):
        receipt = SubmissionReceipt(event_id=uuid.uuid4(), duplicate=duplicate)
        assert receipt_body(receipt) == JSONResponse(jsonable_encoder(receipt)).body


@pytest.mark.parametrize(
    "overrides",
    [{}, {"respondent_id": "parent-2", "age_group": "child"}, {"answers": {"1": 9, "2": None}}],
)
def test_the_events_payload_is_the_submission_validated_again(overrides: dict[str, object]) -> None:
    """to_event takes the validated submission's values as they are: the payload is the one
    validating them again would give (same values, same fields set, same JSON)."""
    submission = ResponseSubmission.model_validate(body(**overrides))
    event = to_event(submission, uuid.uuid4(), NOW).event
    assert isinstance(event, ResponseSubmitted)
    payload = event.payload
    validated = ResponseSubmittedPayload.model_validate(
        submission.model_dump(exclude={"clinic_id", "case_id", "idempotency_key"})
    )
    assert type(payload) is ResponseSubmittedPayload
    assert payload == validated
    assert payload.model_fields_set == validated.model_fields_set
    assert payload.model_dump_json() == validated.model_dump_json()
