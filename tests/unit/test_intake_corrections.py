"""Amending and voiding a response at intake, on an in-memory unit of work: the rules (404,
409, 422, idempotent repeats), what is stored and enqueued, and the gateway's requests."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import pytest

from alliance_contracts.events import (
    ResponseAmended,
    ResponseAmendmentRequested,
    ResponseAmendmentRequestedPayload,
    ResponseVoided,
    ResponseVoidRequested,
    ResponseVoidRequestedPayload,
)
from alliance_contracts.instruments import Violation
from alliance_contracts.topics import RESPONSES
from alliance_contracts.vocabulary import RespondentRole, ScoreStatus
from alliance_intake.application.changes import ChangeRefused, CorrectByKey, change_responses
from alliance_intake.application.commands import apply_commands
from alliance_intake.application.corrections import (
    ByEventId,
    ByKey,
    correct_response,
    response_history,
)
from alliance_intake.application.submit import Rejected, record_episode_ending, submit_response
from alliance_intake.domain.correction import (
    AmendResponse,
    AsSent,
    UnknownResponse,
    VoidedResponse,
    VoidResponse,
)
from alliance_intake.domain.episode import EndEpisode
from tests.unit.fakes.intake import FakeIntakeUnitOfWork
from tests.unit.test_intake_use_cases import NOW, now, submission

CLINIC, KEY = "clinic-north", "ehr-7f3a-2026-11-20-srs"
CORRECTED = {1: 9.1, 2: 8.5, 3: 3.0, 4: 9.9}
AMEND = AmendResponse(answers=CORRECTED, reason="item 3 mistyped")
VOID = VoidResponse(reason="keyed against the wrong client")


async def submitted() -> tuple[FakeIntakeUnitOfWork, uuid.UUID]:
    uow = FakeIntakeUnitOfWork()
    receipt = await submit_response(uow, submission(), now)
    return uow, receipt.event_id


async def test_an_amendment_is_a_new_event_referring_to_the_original() -> None:
    uow, original = await submitted()
    receipt = await correct_response(uow, ByKey(CLINIC, KEY), AMEND, "ehr-1", now)
    assert not receipt.duplicate
    [_, message] = uow.outbox.messages
    assert message.topic == RESPONSES
    event = message.event
    assert isinstance(event, ResponseAmended)
    assert (event.event_id, event.clinic_id, event.case_id) == (
        receipt.event_id, CLINIC, "case-0001"
    )  # fmt: skip
    assert (event.payload.amends, event.payload.answers) == (original, CORRECTED)
    assert (event.payload.reason, event.payload.amended_by) == ("item 3 mistyped", "ehr-1")
    assert event.recorded_at == NOW
    record = await response_history(uow, ByKey(CLINIC, KEY))
    assert record.status is ScoreStatus.AMENDED
    assert record.answers == CORRECTED
    assert record.original.payload.answers == {1: 9.1, 2: 8.5, 3: 7.0, 4: 9.9}  # kept


async def test_repeating_the_latest_correction_is_a_no_op_with_the_same_event_id() -> None:
    uow, _ = await submitted()
    first = await correct_response(uow, ByKey(CLINIC, KEY), AMEND, "ehr-1", now)
    again = await correct_response(uow, ByKey(CLINIC, KEY), AMEND, "ehr-1", now)
    assert (again.event_id, again.duplicate) == (first.event_id, True)
    voided = await correct_response(uow, ByKey(CLINIC, KEY), VOID, "ehr-1", now)
    void_again = await correct_response(uow, ByKey(CLINIC, KEY), VOID, "ehr-1", now)
    assert (void_again.event_id, void_again.duplicate) == (voided.event_id, True)
    assert len(uow.outbox.messages) == 3  # the original, one amendment, one void
    record = await response_history(uow, ByKey(CLINIC, KEY))
    assert record.status is ScoreStatus.VOIDED
    assert record.answers is None
    assert [type(c) for c in record.corrections] == [ResponseAmended, ResponseVoided]


async def test_another_reason_is_another_amendment() -> None:
    uow, _ = await submitted()
    await correct_response(uow, ByKey(CLINIC, KEY), AMEND, "ehr-1", now)
    other = AmendResponse(answers=CORRECTED, reason="checked against the paper form")
    receipt = await correct_response(uow, ByKey(CLINIC, KEY), other, "ehr-1", now)
    assert not receipt.duplicate
    assert len((await response_history(uow, ByKey(CLINIC, KEY))).corrections) == 2


async def test_a_voided_response_can_be_neither_amended_nor_voided_again() -> None:
    uow, _ = await submitted()
    await correct_response(uow, ByKey(CLINIC, KEY), VOID, "ehr-1", now)
    with pytest.raises(VoidedResponse, match="response: was voided"):
        await correct_response(uow, ByKey(CLINIC, KEY), AMEND, "ehr-1", now)
    with pytest.raises(VoidedResponse):
        await correct_response(uow, ByKey(CLINIC, KEY), VoidResponse(reason="again"), "e-1", now)
    assert len(uow.outbox.messages) == 2


async def test_an_unknown_key_or_another_clinics_key_is_not_found() -> None:
    uow, original = await submitted()
    for ref in (
        ByKey(CLINIC, "no-such-key-0001"),
        ByKey("clinic-south", KEY),
        ByEventId("clinic-south", "case-0001", original),
        ByEventId(CLINIC, "case-0002", original),
        ByEventId(CLINIC, "case-0001", uuid.uuid4()),
    ):
        with pytest.raises(UnknownResponse):
            await correct_response(uow, ref, AMEND, "ehr-1", now)
    assert len(uow.outbox.messages) == 1


async def test_corrected_answers_follow_the_submission_rules_and_a_reason_is_required() -> None:
    uow, _ = await submitted()
    out_of_range = AmendResponse(answers={1: 9.1, 2: 8.5, 3: 12.0, 4: 9.9}, reason="typo")
    with pytest.raises(Rejected) as rejected:
        await correct_response(uow, ByKey(CLINIC, KEY), out_of_range, "ehr-1", now)
    assert rejected.value.violations == [Violation("answers.3", "must be between 0 and 10")]
    with pytest.raises(Rejected) as blank:
        await correct_response(uow, ByKey(CLINIC, KEY), VoidResponse(reason="  "), "e-1", now)
    assert blank.value.violations == [Violation("reason", "must not be empty")]
    assert len(uow.outbox.messages) == 1
    assert (await response_history(uow, ByKey(CLINIC, KEY))).status is ScoreStatus.CURRENT


def amendment_request(
    original: uuid.UUID, answers: Mapping[int, float | None]
) -> ResponseAmendmentRequested:
    """A clinic admin's amendment through the gateway, as intake consumes it."""
    return ResponseAmendmentRequested(
        event_id=uuid.uuid4(),
        clinic_id=CLINIC,
        case_id="case-0001",
        occurred_at=NOW,
        recorded_at=NOW,
        payload=ResponseAmendmentRequestedPayload(
            response_id=original, answers=dict(answers), reason="typo", requested_by="admin-1"
        ),
    )


async def test_gateway_requests_correct_by_event_id_once() -> None:
    uow, original = await submitted()
    amend = amendment_request(original, CORRECTED)
    void = ResponseVoidRequested(
        event_id=uuid.uuid4(),
        clinic_id=CLINIC,
        case_id="case-0001",
        occurred_at=NOW,
        recorded_at=NOW,
        payload=ResponseVoidRequestedPayload(
            response_id=original, reason="wrong client", requested_by="admin-1"
        ),
    )
    await apply_commands(uow, [amend, void, amend], now)  # the amendment redelivered
    events = [m.event for m in uow.outbox.messages[1:]]
    assert [type(e) for e in events] == [ResponseAmended, ResponseVoided]
    assert isinstance(events[0], ResponseAmended)
    assert events[0].payload.amended_by == "admin-1"
    assert uow.corrections.requests == {
        f"gateway-{amend.event_id}": events[0].event_id,
        f"gateway-{void.event_id}": events[1].event_id,
    }


async def test_only_responses_can_be_corrected() -> None:
    """Episode endings share the submissions' key space, but are not responses."""
    uow = FakeIntakeUnitOfWork()
    ending = EndEpisode(
        clinic_id=CLINIC,
        case_id="case-0001",
        therapist_id="th-07",
        ending="planned",
        ended_at=NOW,
        idempotency_key=KEY,
    )
    await record_episode_ending(uow, ending, now)
    with pytest.raises(UnknownResponse, match="idempotency_key"):
        await correct_response(uow, ByKey(CLINIC, KEY), VOID, "ehr-1", now)


async def test_a_gateway_request_intake_refuses_raises_its_rule_for_the_dead_letters() -> None:
    """The consumer dead-letters a RuleBroken with its message: the field and the rule."""
    uow, original = await submitted()
    void = ResponseVoidRequested(
        event_id=uuid.uuid4(),
        clinic_id=CLINIC,
        case_id="case-0002",  # not the response's case
        occurred_at=NOW,
        recorded_at=NOW,
        payload=ResponseVoidRequestedPayload(
            response_id=original, reason="wrong client", requested_by="admin-1"
        ),
    )
    with pytest.raises(UnknownResponse, match=r"^response_id: no such response in this clinic"):
        await apply_commands(uow, [void], now)
    assert len(uow.outbox.messages) == 1


async def test_an_amendment_leaving_an_item_out_is_refused_by_http_and_by_the_gateway() -> None:
    """Strict answers (decision 0028): every item of the form, by either door."""
    uow, original = await submitted()
    left_out = {1: 9.1, 2: 8.5, 4: 9.9}
    amendment = AmendResponse(answers=left_out, reason="typo")
    with pytest.raises(Rejected) as rejected:
        await correct_response(uow, ByKey(CLINIC, KEY), amendment, "ehr-1", now)
    assert rejected.value.violations == [Violation("answers.3", "is required")]
    request = amendment_request(original, left_out)
    with pytest.raises(Rejected, match=r"answers\.3: is required"):
        await apply_commands(uow, [request], now)
    assert len(uow.outbox.messages) == 1  # the original only


async def test_a_batch_of_changes_is_one_transaction_all_or_nothing() -> None:
    """`change_responses` (a FHIR transaction Bundle): in order, so a response and its void
    may travel together; one refused change leaves nothing, naming its index."""
    uow = FakeIntakeUnitOfWork()
    bad = submission(idempotency_key="ehr-batch-0002", answers={"1": 9, "2": 9, "3": 12, "4": 9})
    with pytest.raises(ChangeRefused) as refused:
        await change_responses(uow, CLINIC, [submission(), bad], "ehr-1", now)
    assert refused.value.index == 1
    assert isinstance(refused.value.refusal, Rejected)
    assert (uow.submissions.events, uow.outbox.messages) == ([], [])

    done = await change_responses(
        uow, CLINIC, [submission(), CorrectByKey(KEY, VOID)], "ehr-1", now
    )
    assert uow.transactions == 2
    [submitted, voided] = uow.outbox.events()
    assert isinstance(voided, ResponseVoided)
    assert [d.response_id for d in done] == [submitted.event_id] * 2
    assert [d.receipt.event_id for d in done] == [submitted.event_id, voided.event_id]
    assert voided.payload.voids == submitted.event_id


@pytest.mark.parametrize(
    ("sent", "fields"),
    [
        (AsSent("SRS", "client", "case-0001", RespondentRole.CLIENT, "case-0001"), []),
        (AsSent(), []),  # nothing sent besides the answers: nothing to compare
        (AsSent("CSRS", "child"), ["instrument"]),
        (AsSent("SRS", "client", "case-0002"), ["case_id"]),
        (
            AsSent(respondent_role=RespondentRole.THERAPIST, respondent_id="th-07"),
            ["respondent_id"],
        ),
        (
            AsSent(respondent_role=RespondentRole.CLIENT, respondent_id="case-0002"),
            ["respondent_id"],
        ),
        (
            AsSent("WAI-SR", "client", "case-0002", RespondentRole.PARENT, "mother-1"),
            ["instrument", "case_id", "respondent_id"],
        ),
    ],
    ids=["the same", "nothing", "form", "case", "role", "respondent", "all"],
)
async def test_an_amendment_sent_whole_must_be_of_the_original_response(
    sent: AsSent, fields: list[str]
) -> None:
    """A FHIR amendment carries its questionnaire, subject and respondent: the original's, or
    it is refused naming each that differs, and nothing is recorded."""
    uow, _ = await submitted()
    change = CorrectByKey(KEY, AMEND, sent)
    if not fields:
        await change_responses(uow, CLINIC, [change], "ehr-1", now)
        assert isinstance(uow.outbox.events()[-1], ResponseAmended)
        return
    with pytest.raises(ChangeRefused) as refused:
        await change_responses(uow, CLINIC, [change], "ehr-1", now)
    rejected = refused.value.refusal
    assert isinstance(rejected, Rejected)
    assert [v.field for v in rejected.violations] == fields
    assert all("original" in v.rule for v in rejected.violations)
    assert len(uow.outbox.events()) == 1  # the submission only
