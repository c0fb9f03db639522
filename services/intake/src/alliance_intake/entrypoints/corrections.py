"""HTTP routes for one accepted response, named by the clinic and the idempotency key it was
submitted with: amend it (PUT), void it (DELETE), read its history (GET). Scope
`responses:write`, as for submitting it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from alliance_contracts.access import Scope
from alliance_contracts.events import Answers, ResponseAmended
from alliance_contracts.timing import utc_now
from alliance_contracts.vocabulary import ScoreStatus
from alliance_intake.adapters.unit_of_work import PostgresIntakeUnitOfWork
from alliance_intake.application.corrections import ByKey, correct_response, response_history
from alliance_intake.application.submit import Rejected
from alliance_intake.domain.correction import (
    AmendResponse,
    ResponseRecord,
    UnknownResponse,
    VoidedResponse,
    VoidResponse,
)
from alliance_intake.domain.submission import SubmissionReceipt
from alliance_intake.entrypoints.common import ERRORS, READ_ERRORS, Caller, ClinicPath, rejection
from alliance_intake.entrypoints.requests import ResponseAmendment, ResponseVoid
from alliance_platform.http_security import error_body, require_write
from alliance_platform.runtime import Runtime

KeyPath = Annotated[str, Path(min_length=8, max_length=128, pattern=r"^[\x21-\x7e]+$")]
RESOURCE = "/v1/clinics/{clinic_id}/responses/{idempotency_key}"
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No response was accepted under this key in the clinic."}
}
CORRECTION_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    **NOT_FOUND,
    200: {"model": SubmissionReceipt, "description": "A repeat of the latest correction."},
    409: {"description": "The response was voided: it can be neither amended nor voided."},
}


class ResponseVersion(BaseModel):
    version: int = Field(description="1: as submitted; then each correction in order.")
    event_id: uuid.UUID
    kind: Literal["submitted", "amended", "voided"]
    answers: Answers | None = Field(description="The answers of this version (none: a void).")
    reason: str | None = Field(description="Why it was corrected (none: the original).")
    by: str | None = Field(description="Who corrected it (token subject; none: the original).")
    at: datetime = Field(description="When intake recorded it.")


class ResponseHistory(BaseModel):
    clinic_id: str
    case_id: str
    idempotency_key: str
    response_id: uuid.UUID = Field(description="The original response.submitted event id.")
    status: ScoreStatus
    answers: Answers | None = Field(description="The answers in force (none once voided).")
    versions: list[ResponseVersion] = Field(description="The audit trail, oldest first.")

    @classmethod
    def of(cls, record: ResponseRecord) -> ResponseHistory:
        original = record.original
        versions = [
            ResponseVersion(
                version=1,
                event_id=original.event_id,
                kind="submitted",
                answers=original.payload.answers,
                reason=None,
                by=None,
                at=original.recorded_at,
            )
        ]
        for number, c in enumerate(record.corrections, start=2):
            if isinstance(c, ResponseAmended):
                kind, answers, by = "amended", c.payload.answers, c.payload.amended_by
            else:
                kind, answers, by = "voided", None, c.payload.voided_by
            versions.append(
                ResponseVersion(
                    version=number,
                    event_id=c.event_id,
                    kind=kind,
                    answers=answers,
                    reason=c.payload.reason,
                    by=by,
                    at=c.recorded_at,
                )
            )
        return cls(
            clinic_id=original.clinic_id,
            case_id=original.case_id,
            idempotency_key=record.idempotency_key,
            response_id=original.event_id,
            status=record.status,
            answers=record.answers,
            versions=versions,
        )


def not_found(unknown: UnknownResponse) -> JSONResponse:
    return JSONResponse(error_body(["path", "idempotency_key"], str(unknown), "not_found"), 404)


def corrections_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["responses"])

    async def correct(
        clinic_id: str, key: str, change: AmendResponse | VoidResponse, by: str
    ) -> SubmissionReceipt | JSONResponse:
        pool, relay = runtime.require()
        try:
            receipt = await correct_response(
                PostgresIntakeUnitOfWork(pool), ByKey(clinic_id, key), change, by, utc_now
            )
        except Rejected as rejected:
            return rejection(rejected)
        except UnknownResponse as unknown:
            return not_found(unknown)
        except VoidedResponse as voided:
            return JSONResponse(error_body(["path", "idempotency_key"], str(voided), "voided"), 409)
        if receipt.duplicate:
            return JSONResponse(receipt.model_dump(mode="json"), status_code=200)
        relay.wake()
        return receipt

    @router.put(
        RESOURCE,
        status_code=status.HTTP_202_ACCEPTED,
        response_model=SubmissionReceipt,
        responses=CORRECTION_ERRORS,
    )
    async def put_response(
        clinic_id: ClinicPath,
        idempotency_key: KeyPath,
        amendment: ResponseAmendment,
        caller: Caller,
    ) -> SubmissionReceipt | JSONResponse:
        """Amends the response accepted under this key: all its answers, corrected (the same
        item rules as a submission), and a reason. Publishes `response.amended`; the original
        stays. 202 with the new event id; 200 with the same id when it repeats the latest
        amendment (same answers and reason). Scope `responses:write`."""
        require_write(caller, clinic_id, Scope.RESPONSES_WRITE)
        return await correct(clinic_id, idempotency_key, amendment, caller.subject)

    @router.delete(
        RESOURCE,
        status_code=status.HTTP_202_ACCEPTED,
        response_model=SubmissionReceipt,
        responses=CORRECTION_ERRORS,
    )
    async def delete_response(
        clinic_id: ClinicPath, idempotency_key: KeyPath, void: ResponseVoid, caller: Caller
    ) -> SubmissionReceipt | JSONResponse:
        """Voids the response accepted under this key (e.g. keyed against the wrong client),
        with a reason in a JSON body. Publishes `response.voided`; the original stays. 202 with
        the new event id; 200 with the same id on a repeat (same reason). Scope
        `responses:write`."""
        require_write(caller, clinic_id, Scope.RESPONSES_WRITE)
        return await correct(clinic_id, idempotency_key, void, caller.subject)

    @router.get(RESOURCE, response_model=ResponseHistory, responses={**READ_ERRORS, **NOT_FOUND})
    async def get_response(
        clinic_id: ClinicPath, idempotency_key: KeyPath, caller: Caller
    ) -> ResponseHistory | JSONResponse:
        """The response accepted under this key: its answers in force, its status (current,
        amended, voided) and every version with its reason, who and when. Scope
        `responses:write`."""
        require_write(caller, clinic_id, Scope.RESPONSES_WRITE)
        pool, _ = runtime.require()
        try:
            record = await response_history(
                PostgresIntakeUnitOfWork(pool), ByKey(clinic_id, idempotency_key)
            )
        except UnknownResponse as unknown:
            return not_found(unknown)
        return ResponseHistory.of(record)

    return router
