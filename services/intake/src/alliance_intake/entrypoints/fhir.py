"""FHIR R4 over HTTP: the instruments as `Questionnaire`s (docs/fhir.md, decision 0028).

Generated from the instrument registry (`alliance_contracts.fhir`), each validated with
`fhir.resources` (its R4B models: R4's Questionnaire and Bundle) once, when the router is made,
and served as those bytes. A Questionnaire holds no client data: any valid token may read it
(the door authenticates; no scope or clinic is needed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.questionnaire import Questionnaire

from alliance_contracts.fhir import (
    CANONICAL_BASE,
    FHIR_JSON,
    QUESTIONNAIRES,
    Issue,
    by_canonical,
    operation_outcome,
)
from alliance_intake.entrypoints.common import READ_ERRORS, Caller, fhir_answer, fhir_refusals

_NOT_FOUND = operation_outcome(
    [
        Issue(
            "",
            "id: no Questionnaire with this id (GET /fhir/Questionnaire lists them)",
            "not-found",
        )
    ]
)


def searchset(resources: Sequence[Mapping[str, Any]], self_url: str) -> dict[str, Any]:
    """A `searchset` Bundle of `resources`, each entry's `fullUrl` its canonical URL (the
    same in every deployment), the `self` link the search as asked."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "link": [{"relation": "self", "url": self_url}],
        "entry": [
            {"fullUrl": r["url"], "resource": r, "search": {"mode": "match"}} for r in resources
        ],
    }


def _validated(model: Any, resource: Mapping[str, Any]) -> bytes:
    """The resource as served, once `fhir.resources` has accepted it (raises otherwise)."""
    model.model_validate(resource)
    return json.dumps(resource, separators=(",", ":")).encode()


def fhir_router() -> APIRouter:
    router = APIRouter(prefix="/fhir", tags=["fhir"])
    every = list(QUESTIONNAIRES.values())
    each = {ident: _validated(Questionnaire, q) for ident, q in QUESTIONNAIRES.items()}
    _validated(Bundle, searchset(every, f"{CANONICAL_BASE}/Questionnaire"))  # their Bundle
    not_found = _validated(OperationOutcome, _NOT_FOUND)

    def fhir(body: bytes, status_code: int = 200) -> Response:
        return Response(body, status_code, media_type=FHIR_JSON)

    @router.get(
        "/Questionnaire",
        response_class=Response,
        responses={
            200: fhir_answer("A searchset Bundle."),
            422: fhir_answer("A parameter refused (`url` too long): an OperationOutcome."),
            **fhir_refusals(READ_ERRORS),
        },
    )
    async def search_questionnaires(
        request: Request,
        _: Caller,
        url: Annotated[
            str | None,
            Query(
                max_length=256,
                description="A canonical URL (`url` or `url|version`): only that Questionnaire.",
            ),
        ] = None,
    ) -> Response:
        """Every instrument's every form as a FHIR R4 Questionnaire, in a `searchset` Bundle;
        with `url`, the one with that canonical URL (none: an empty Bundle). Any valid token."""
        found = every if url is None else [q for q in [by_canonical(url)] if q is not None]
        return fhir(json.dumps(searchset(found, str(request.url))).encode())

    @router.get(
        "/Questionnaire/{questionnaire_id}",
        response_class=Response,
        responses={
            200: fhir_answer("The Questionnaire."),
            404: fhir_answer("No such Questionnaire: an OperationOutcome."),
            **fhir_refusals(READ_ERRORS),
        },
    )
    async def read_questionnaire(questionnaire_id: str, _: Caller) -> Response:
        """One form of an instrument as a FHIR R4 Questionnaire (`<code>-<form>`, e.g.
        `srs-client`, `oq-45.2-client`). Any valid token."""
        found = each.get(questionnaire_id)
        return fhir(found) if found is not None else fhir(not_found, 404)

    return router
