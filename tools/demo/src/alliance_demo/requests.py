"""The request bodies the demo sends to intake, typed from the contracts.

Intake's own request models live in intake, and the demo depends on the contracts only; so the
bodies are the contract payloads (`ResponseSubmittedPayload`, `EpisodeEndedPayload`: the same
fields, enums, id and time types and rules) plus what a request adds to them: the clinic, the
case and the idempotency key. A body that breaks a contract rule fails here, in the generator,
not as a 422 from intake.
"""

from __future__ import annotations

from typing import Any

from alliance_contracts.events import EpisodeEndedPayload, ResponseSubmittedPayload
from alliance_contracts.ids import CaseId, ClinicId, IdempotencyKey

RESPONSES_PATH = "/v1/responses"
ENDINGS_PATH = "/v1/episode-endings"


class ResponseRequest(ResponseSubmittedPayload):
    """The body of `POST /v1/responses`: a questionnaire response."""

    clinic_id: ClinicId
    case_id: CaseId
    idempotency_key: IdempotencyKey


class EpisodeEndingRequest(EpisodeEndedPayload):
    """The body of `POST /v1/episode-endings`: the end of a treatment episode."""

    clinic_id: ClinicId
    case_id: CaseId
    idempotency_key: IdempotencyKey


Submission = ResponseRequest | EpisodeEndingRequest


def path_of(submission: Submission) -> str:
    return ENDINGS_PATH if isinstance(submission, EpisodeEndingRequest) else RESPONSES_PATH


def request_body(submission: Submission) -> dict[str, Any]:
    """The JSON body as it goes on the wire (optional fields left out when not given)."""
    return submission.model_dump(mode="json", exclude_none=True)
