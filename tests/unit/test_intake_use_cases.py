"""Intake's use cases on an in-memory unit of work: what is stored and enqueued, in how many
transactions (the rules themselves: test_intake_rules.py, test_configuration.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from alliance_contracts.events import (
    CaseAssignmentRequested,
    CaseAssignmentRequestedPayload,
    ClinicConfigured,
    ResponseSubmitted,
)
from alliance_contracts.topics import CONFIG, RESPONSES
from alliance_intake.application.commands import apply_commands
from alliance_intake.application.submit import (
    Rejected,
    assign_case,
    configure_clinic,
    submit_response,
)
from alliance_intake.domain.configuration import ChangeConfiguration
from alliance_intake.domain.roster import AssignCase
from alliance_intake.domain.submission import IdempotencyConflict, SubmitResponse, fingerprint
from alliance_intake.entrypoints.requests import Assignment, ResponseSubmission
from tests.unit.fakes.intake import FakeIntakeUnitOfWork

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def now() -> datetime:
    return NOW


def body(**changes: Any) -> dict[str, Any]:
    return {
        "clinic_id": "clinic-north",
        "case_id": "case-0001",
        "therapist_id": "th-07",
        "respondent_role": "client",
        "instrument": "SRS",
        "form": "client",
        "session_number": 3,
        "administered_at": "2026-11-20T15:00:00Z",
        "answers": {"1": 9.1, "2": 8.5, "3": 7.0, "4": 9.9},
        "idempotency_key": "ehr-7f3a-2026-11-20-srs",
        **changes,
    }


def submission(**changes: Any) -> ResponseSubmission:
    return ResponseSubmission.model_validate(body(**changes))


async def test_an_accepted_response_is_stored_and_enqueued_in_one_transaction() -> None:
    uow = FakeIntakeUnitOfWork()
    event_id = uuid.uuid4()
    receipt = await submit_response(uow, submission(), now, lambda: event_id)
    assert receipt.event_id == event_id
    assert not receipt.duplicate
    [event] = uow.submissions.events
    assert isinstance(event, ResponseSubmitted)
    assert (event.event_id, event.recorded_at, event.config_version) == (event_id, NOW, 0)
    [message] = uow.outbox.messages
    assert message.topic == RESPONSES
    assert message.event == event
    assert (uow.transactions, uow.commits) == (1, 1)


async def test_a_response_is_stamped_with_the_clinics_latest_configuration_version() -> None:
    uow = FakeIntakeUnitOfWork()
    change = ChangeConfiguration(overrides={"oq_norm_set": "NL"}, idempotency_key="config-0001")
    await configure_clinic(uow, "clinic-north", change, now)
    await submit_response(uow, submission(), now)
    event = uow.submissions.events[-1]
    assert isinstance(event, ResponseSubmitted)
    assert event.config_version == 1


async def test_a_replay_returns_the_original_event_and_enqueues_nothing() -> None:
    uow = FakeIntakeUnitOfWork()
    first = await submit_response(uow, submission(), now)
    again = await submit_response(uow, submission(), now)
    assert again.event_id == first.event_id
    assert again.duplicate
    assert len(uow.submissions.events) == len(uow.outbox.messages) == 1


async def test_the_same_key_with_another_body_conflicts_and_changes_nothing() -> None:
    uow = FakeIntakeUnitOfWork()
    await submit_response(uow, submission(), now)
    with pytest.raises(IdempotencyConflict):
        await submit_response(uow, submission(session_number=4), now)
    assert len(uow.submissions.events) == len(uow.outbox.messages) == 1
    assert (uow.transactions, uow.commits) == (2, 1)
    # The key is one namespace per clinic: another clinic may use it.
    other = await submit_response(uow, submission(clinic_id="clinic-south"), now)
    assert not other.duplicate


async def test_a_response_that_breaks_a_rule_is_rejected_before_any_transaction() -> None:
    uow = FakeIntakeUnitOfWork()
    with pytest.raises(Rejected) as rejected:
        await submit_response(uow, submission(answers={"1": 11, "2": 8, "3": 7, "4": 9}), now)
    assert [v.field for v in rejected.value.violations] == ["answers.1"]
    assert uow.transactions == 0


async def test_a_configuration_change_is_the_next_version_under_the_clinics_lock() -> None:
    uow = FakeIntakeUnitOfWork()
    first = ChangeConfiguration(overrides={"oq_norm_set": "NL"}, idempotency_key="config-0001")
    second = ChangeConfiguration(
        overrides={"rules_enabled": {"drop_from_previous": False}}, idempotency_key="config-0002"
    )
    await configure_clinic(uow, "clinic-north", first, now)
    await configure_clinic(uow, "clinic-north", second, now)
    replay = await configure_clinic(uow, "clinic-north", second, now)
    assert replay.duplicate
    versions = uow.configurations.versions["clinic-north"]
    assert [v.payload.version for v in versions] == [1, 2]
    assert versions[1].payload.configuration["oq_norm_set"] == "NL"  # merged onto version 1
    assert uow.configurations.locked == ["clinic-north"] * 3
    assert [m.topic for m in uow.outbox.messages] == [CONFIG, CONFIG]
    assert all(isinstance(m.event, ClinicConfigured) for m in uow.outbox.messages)


async def test_an_invalid_override_stores_nothing() -> None:
    uow = FakeIntakeUnitOfWork()
    change = ChangeConfiguration(overrides={"split_gap": "wide"}, idempotency_key="config-0001")
    with pytest.raises(ValidationError):
        await configure_clinic(uow, "clinic-north", change, now)
    assert (uow.outbox.messages, uow.configurations.versions, uow.commits) == ([], {}, 0)


async def test_a_gateway_request_is_the_same_write_as_its_http_twin() -> None:
    uow = FakeIntakeUnitOfWork()
    request = CaseAssignmentRequested(
        event_id=uuid.uuid4(),
        clinic_id="clinic-north",
        case_id="case-0001",
        occurred_at=NOW,
        recorded_at=NOW,
        payload=CaseAssignmentRequestedPayload(
            therapist_id="th-08", transfer=True, requested_by="admin-1"
        ),
    )
    await apply_commands(uow, [request, request], now)  # redelivered: recorded once
    key = f"gateway-{request.event_id}"
    assert list(uow.submissions.recorded_by_key) == [("clinic-north", key)]
    [message] = uow.outbox.messages
    assert message.topic == CONFIG
    http = Assignment(therapist_id="th-08", transfer=True, idempotency_key=key)
    replay = await assign_case(uow, "clinic-north", "case-0001", http, now)
    assert replay.duplicate  # the same content under the same key
    assert uow.transactions == 3


def test_a_body_and_its_domain_command_have_the_same_fingerprint() -> None:
    """Stored fingerprints stay valid whichever door a write came through."""
    assert fingerprint(submission()) == fingerprint(SubmitResponse.model_validate(body()))
    assert fingerprint(Assignment(therapist_id="th-08", idempotency_key="key-0001")) == (
        fingerprint(AssignCase(therapist_id="th-08", idempotency_key="key-0001"))
    )
