"""FHIR R4 writes: `POST /fhir/QuestionnaireResponse` and `POST /fhir` (a `transaction` Bundle
of them), behind intake's door with the scope of `POST /v1/responses` (docs/fhir.md, decision
0028). Each resource: its structure by `fhir.resources` (400), then the change it asks for
(`fhir_mapping`) through the domain's rules (422, 409), each error an `OperationOutcome` issue
at the FHIRPath of the element. All the changes of a request are one transaction: all or
nothing, durable (with their outbox rows) before the answer."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from pydantic import ValidationError

from alliance_contracts.access import Scope
from alliance_contracts.fhir import FHIR_JSON, Issue, operation_outcome
from alliance_contracts.timing import utc_now
from alliance_intake.adapters.unit_of_work import PostgresIntakeUnitOfWork
from alliance_intake.application.changes import ChangeRefused, change_responses
from alliance_intake.application.commands import GATEWAY_KEY_PREFIX
from alliance_intake.application.corrections import ResponseReceipt
from alliance_intake.application.submit import Rejected
from alliance_intake.domain.correction import UnknownResponse, VoidedResponse
from alliance_intake.entrypoints.common import (
    ERRORS,
    FHIR_RESOURCE,
    Caller,
    fhir_answer,
    fhir_refusals,
)
from alliance_intake.entrypoints.fhir_mapping import Mapped, Refused, fhirpath, map_response
from alliance_platform.http_security import require_write
from alliance_platform.runtime import Runtime

MAX_ENTRIES = 100  # a Bundle's changes are one transaction under the clinic's lock: bounded
# FHIR R4's JSON media type, plain JSON, and R3's spelling that clients still send.
FHIR_MEDIA_TYPES = frozenset({FHIR_JSON, "application/json", "application/json+fhir"})


def _body(resource_type: str) -> dict[str, Any]:
    """The documented body: a FHIR resource of that type (its structure: fhir.resources)."""
    schema = {**FHIR_RESOURCE, "properties": {"resourceType": {"const": resource_type}}}
    return {"requestBody": {"required": True, "content": {FHIR_JSON: {"schema": schema}}}}


WRITE_ANSWERS: dict[int | str, dict[str, Any]] = {
    **fhir_refusals(ERRORS),
    400: fhir_answer("Not a valid resource (structure, per fhir.resources): an OperationOutcome."),
    409: fhir_answer("A key used for other content, or a voided response: an OperationOutcome."),
    415: fhir_answer("Not declared as FHIR JSON (`Content-Type`): an OperationOutcome."),
    422: fhir_answer("A rule broken (item, reference, unknown key): an OperationOutcome."),
}


class Outcome(Exception):
    """The request is answered with an OperationOutcome of `issues` and `status`."""

    def __init__(self, status: int, issues: Sequence[Issue]) -> None:
        super().__init__(status)
        self.status, self.issues = status, list(issues)


def _fhir(body: Mapping[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers=headers, media_type=FHIR_JSON)


def _structure(model: Any, resource: Any, prefix: str) -> list[Issue]:
    """What `fhir.resources` refuses in the resource's structure, at FHIRPaths under `prefix`."""
    try:
        model.model_validate(resource)
    except ValidationError as invalid:
        return [
            Issue(fhirpath(e["loc"]), e["msg"].split("\n")[0], "structure").under(prefix)
            for e in invalid.errors()
        ]
    return []


def _fhir_body(request: Request) -> None:
    """415 unless the body is declared FHIR JSON (or JSON): what else would be read as it?"""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in FHIR_MEDIA_TYPES:
        rule = f"Content-Type: must be {FHIR_JSON} (or application/json)"
        raise Outcome(415, [Issue("", rule, "not-supported")])


def _parsed(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Outcome(400, [Issue("", "the body is not JSON", "structure")]) from None


def _entries(bundle: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """The resources of a transaction Bundle of QuestionnaireResponse creates, each with its
    FHIRPath; Outcome(400) for anything else."""
    if issues := _structure(Bundle, bundle, "Bundle"):
        raise Outcome(400, issues)
    if bundle.get("type") != "transaction":
        raise Outcome(400, [Issue("Bundle.type", "must be transaction", "value")])
    entries = bundle.get("entry") or []
    if not 1 <= len(entries) <= MAX_ENTRIES:
        rule = f"a transaction carries 1-{MAX_ENTRIES} QuestionnaireResponses"
        raise Outcome(400, [Issue("Bundle.entry", rule, "too-costly")])
    found: list[tuple[str, Mapping[str, Any]]] = []
    for i, entry in enumerate(entries):
        request = entry.get("request") or {}
        if (request.get("method"), request.get("url")) != ("POST", "QuestionnaireResponse"):
            rule = "must be method POST, url QuestionnaireResponse (create)"
            issues.append(Issue(f"Bundle.entry[{i}].request", rule, "not-supported"))
        prefix = f"Bundle.entry[{i}].resource"
        issues += _structure(QuestionnaireResponse, entry.get("resource"), prefix)
        found.append((prefix, entry.get("resource") or {}))
    if issues:
        raise Outcome(400, issues)
    return found


def _refusal(refused: ChangeRefused, prefix: str, mapped: Mapped) -> Outcome:
    """A change the domain refused, answered at the elements it came from."""
    refusal, key = refused.refusal, mapped.paths.get("idempotency_key", "")
    if isinstance(refusal, Rejected):
        return Outcome(422, [i.under(prefix) for i in mapped.issues(refusal.violations)])
    if isinstance(refusal, UnknownResponse):
        return Outcome(422, [Issue(key, str(refusal), "not-found").under(prefix)])
    if isinstance(refusal, VoidedResponse):
        return Outcome(409, [Issue(key, str(refusal), "conflict").under(prefix)])
    rule = "was already used for a different submission"
    return Outcome(409, [Issue(key, rule, "conflict").under(prefix)])


def _location(done: ResponseReceipt) -> str:
    """`QuestionnaireResponse/<response id>/_history/<event id>`: the response (the event id of
    its response.submitted, as GraphQL shows it), and the version this change recorded."""
    return f"QuestionnaireResponse/{done.response_id}/_history/{done.receipt.event_id}"


def _status(done: ResponseReceipt) -> str:
    return "200 OK" if done.receipt.duplicate else "201 Created"


def fhir_writes_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/fhir", tags=["fhir"])

    async def apply(caller: Caller, resources: Sequence[tuple[str, Mapping[str, Any]]]) -> Any:
        """Maps every resource (all their issues at once), checks the token covers the
        clinic, and records every change in one transaction: their answers, in order."""
        mapped: list[Mapped] = []
        issues: list[Issue] = []
        for prefix, resource in resources:
            try:
                one = map_response(resource, caller.clinics)
            except Refused as refused:
                issues += [i.under(prefix) for i in refused.issues]
                continue
            key, key_path = one.key, one.paths["idempotency_key"]
            if key.startswith(GATEWAY_KEY_PREFIX):
                rule = f"must not start with {GATEWAY_KEY_PREFIX} (reserved for gateway requests)"
                issues.append(Issue(key_path, rule).under(prefix))
            mapped.append(one)
        if issues:
            raise Outcome(422, issues)
        clinics = {m.clinic_id for m in mapped}
        if len(clinics) > 1:
            raise Outcome(422, [Issue("Bundle.entry", "one clinic per transaction", "invariant")])
        clinic = clinics.pop()
        require_write(caller, clinic, Scope.RESPONSES_WRITE, "body")
        pool, relay = runtime.require()
        changes = [m.change for m in mapped]
        try:
            done = await change_responses(
                PostgresIntakeUnitOfWork(pool), clinic, changes, caller.subject, utc_now
            )
        except ChangeRefused as refused:
            raise _refusal(refused, resources[refused.index][0], mapped[refused.index]) from None
        relay.wake()
        return done

    @router.post(
        "/QuestionnaireResponse",
        response_class=Response,
        status_code=201,
        openapi_extra=_body("QuestionnaireResponse"),
        responses={
            201: fhir_answer("Recorded: Location names the response; an OperationOutcome."),
            200: fhir_answer("A repeat of what this key recorded: nothing new."),
            **WRITE_ANSWERS,
        },
    )
    async def create_questionnaire_response(request: Request, caller: Caller) -> Response:
        """A QuestionnaireResponse: `completed` submits a response, `amended` amends and
        `entered-in-error` voids the response of the same key (`identifier.value`, or `id`).
        The mapping of each element: docs/fhir.md. Scope `responses:write`."""
        try:
            _fhir_body(request)
            resource = _parsed(await request.body())
            if issues := _structure(QuestionnaireResponse, resource, "QuestionnaireResponse"):
                raise Outcome(400, issues)
            [done] = await apply(caller, [("QuestionnaireResponse", resource)])
        except Outcome as outcome:
            return _fhir(operation_outcome(outcome.issues), outcome.status)
        recorded = Issue("", f"{_status(done)}: {_location(done)}", "informational")
        return _fhir(
            operation_outcome([recorded], "information"),
            200 if done.receipt.duplicate else 201,
            {"location": _location(done)},
        )

    @router.post(
        "",
        response_class=Response,
        openapi_extra=_body("Bundle"),
        responses={200: fhir_answer("A transaction-response Bundle."), **WRITE_ANSWERS},
    )
    async def transaction(request: Request, caller: Caller) -> Response:
        """A `transaction` Bundle of QuestionnaireResponse creates (each `request` POST
        `QuestionnaireResponse`), at most 100, one clinic: all recorded in one transaction or
        none (any error rejects the Bundle, naming the entry's element). Answers a
        `transaction-response` Bundle: each entry's status (`201 Created`, or `200 OK` for a
        repeat) and location. Scope `responses:write`."""
        try:
            _fhir_body(request)
            done = await apply(caller, _entries(_parsed(await request.body())))
        except Outcome as outcome:
            return _fhir(operation_outcome(outcome.issues), outcome.status)
        answer = {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [{"response": {"status": _status(d), "location": _location(d)}} for d in done],
        }
        return _fhir(answer, 200)

    return router
