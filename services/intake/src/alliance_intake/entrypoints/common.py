"""What intake's HTTP routes share: path parameters, the caller, the documented errors and
the answer to a broken rule."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path
from fastapi.responses import JSONResponse

from alliance_contracts.access import Principal
from alliance_contracts.fhir import FHIR_JSON
from alliance_contracts.ids import PSEUDONYMOUS_ID_PATTERN
from alliance_intake.application.submit import Rejected
from alliance_platform.http_security import ERRORS as DOOR_ERRORS
from alliance_platform.http_security import principal

ClinicPath = Annotated[str, Path(pattern=PSEUDONYMOUS_ID_PATTERN, max_length=64)]
IdPath = Annotated[str, Path(pattern=PSEUDONYMOUS_ID_PATTERN, max_length=64)]
Caller = Annotated[Principal, Depends(principal)]
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    k: v for k, v in DOOR_ERRORS.items() if k not in (413, 422)
}
ERRORS: dict[int | str, dict[str, Any]] = {
    **DOOR_ERRORS,
    409: {"description": "The idempotency key was used for a different submission."},
}


def rejection(rejected: Rejected) -> JSONResponse:
    """422 naming each field of the body and the rule it broke."""
    detail = [
        {"loc": ["body", *v.field.split(".")], "msg": v.rule, "type": "rule_violation"}
        for v in rejected.violations
    ]
    return JSONResponse({"detail": detail}, status_code=422)


FHIR_RESOURCE: dict[str, Any] = {"type": "object", "required": ["resourceType"]}


def fhir_answer(description: str) -> dict[str, Any]:
    """An answer of a FHIR route, for the OpenAPI document: a resource in FHIR JSON."""
    return {"description": description, "content": {FHIR_JSON: {"schema": FHIR_RESOURCE}}}


def fhir_refusals(errors: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """The door's answers on a FHIR route: OperationOutcomes (alliance_platform.fhir_refusals)."""
    return {s: fhir_answer(f"{e['description']} An OperationOutcome.") for s, e in errors.items()}
