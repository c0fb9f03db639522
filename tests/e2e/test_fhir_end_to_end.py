"""End to end over FHIR (four OS processes): a transaction Bundle of QuestionnaireResponses is
scored and raises an alert; the scores read back through GraphQL and, with a real FHIR client
(`fhirpy`), as Observations that validate under `fhir.resources`; an `entered-in-error`
QuestionnaireResponse voids the response that caused it, its Observation says so, and the alert
resolves saying why; an `amended` one replaces its response's Observation by the amendment's,
derived from that version of the response (docs/fhir.md, decision 0028)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhirpy import AsyncFHIRClient

from alliance_contracts.fhir import REASON_EXTENSION
from alliance_devstack.processes import ServiceProcess
from tests.conftest import eventually
from tests.helpers import bearer, clinic_system, graphql, questionnaire_response, transaction
from tests.integration.test_fhir_observations import serialized, value

TIMELINE = """query($clinic: ID!, $case: ID!) { case(clinicId: $clinic, caseId: $case) {
  dyads { timeline { sessionNumber total } } } }"""
ALERTS = """query($clinic: ID!) { alerts(clinicId: $clinic, first: 100) {
  edges { node { caseId kind status history { action status note } } } } }"""


async def observations(gateway: str, headers: dict[str, str], case: str) -> list[Observation]:
    """The case's Observations through fhirpy (every page), each validated."""
    fhir = AsyncFHIRClient(f"{gateway}/fhir", authorization=headers["Authorization"])
    found = await fhir.resources("Observation").search(subject=f"Patient/{case}").fetch_all()
    return [Observation.model_validate(serialized(r)) for r in found]


async def test_an_entered_in_error_response_voids_it_and_its_alert_resolves(
    services: dict[str, ServiceProcess], ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    intake, gateway = services["intake"].url, services["gateway"].url
    first = questionnaire_response(case, 1, 9.5, key=f"{case}-fhir-1")  # SRS 38
    low = questionnaire_response(case, 2, 8.0, key=f"{case}-fhir-2")  # SRS 32: below 36
    for resource in (first, low):
        QuestionnaireResponse.model_validate(resource)  # what the test client sends is FHIR
    async with httpx.AsyncClient(timeout=10, headers=clinic_system([clinic])) as ehr:
        sent = await ehr.post(f"{intake}/fhir", json=transaction(first, low))
        assert sent.status_code == 200, sent.text
        assert [e["response"]["status"] for e in sent.json()["entry"]] == ["201 Created"] * 2
    Bundle.model_validate(sent.json())
    # QuestionnaireResponse/<response id>/_history/<version>: the response ids, in order.
    responses = [e["response"]["location"].split("/")[1] for e in sent.json()["entry"]]

    async with httpx.AsyncClient(timeout=10, headers=bearer("supervisor", [clinic])) as client:

        async def alert(status: str) -> dict[str, Any] | None:
            data = await graphql(client, gateway, ALERTS, clinic=clinic)
            return next(
                (
                    e["node"]
                    for e in data["alerts"]["edges"]
                    if e["node"]["caseId"] == case and e["node"]["status"] == status
                ),
                None,
            )

        raised = await eventually(lambda: alert("OPEN"), within=60)
        assert raised["kind"] == "EARLY_LOW_ALLIANCE"
        supervisor = bearer("supervisor", [clinic])
        scored = await observations(gateway, supervisor, case)
        graphql_points = (await graphql(client, gateway, TIMELINE, clinic=clinic, case=case))[
            "case"
        ]["dyads"][0]["timeline"]

        voided = {**low, "status": "entered-in-error"}
        voided["extension"] = [
            *low["extension"],
            {"url": REASON_EXTENSION, "valueString": "another client's form"},
        ]
        async with httpx.AsyncClient(timeout=10, headers=clinic_system([clinic])) as ehr:
            void = await ehr.post(f"{intake}/fhir/QuestionnaireResponse", json=voided)
        assert void.status_code == 201, void.text

        resolved = await eventually(lambda: alert("RESOLVED"), within=60)

        async def timeline() -> list[Any] | None:
            data = await graphql(client, gateway, TIMELINE, clinic=clinic, case=case)
            points = data["case"]["dyads"][0]["timeline"]
            return points if len(points) == 1 else None

        points = await eventually(timeline, within=60)
        after_void = await observations(gateway, supervisor, case)

        # Amend the first response: its Observation is the amendment's, derived from that
        # version of the response.
        fixed = {
            **first,
            "status": "amended",
            "item": [{"linkId": str(n), "answer": [{"valueDecimal": 9.8}]} for n in range(1, 5)],
        }
        async with httpx.AsyncClient(timeout=10, headers=clinic_system([clinic])) as ehr:
            amend = await ehr.post(f"{intake}/fhir/QuestionnaireResponse", json=fixed)
        assert amend.status_code == 201, amend.text
        location = amend.headers["location"]
        amendment = location.rsplit("/", 1)[1]

        async def amended() -> list[Observation] | None:
            found = await observations(gateway, supervisor, case)
            return found if found and found[0].id == amendment else None

        after_amend = await eventually(amended, within=60)
    # Both scores, the same through GraphQL and as Observations derived from the responses.
    assert graphql_points == [
        {"sessionNumber": 1, "total": 38.0},
        {"sessionNumber": 2, "total": 32.0},
    ]
    assert [(o.status, value(o.valueQuantity)) for o in scored] == [
        ("final", 38.0),
        ("final", 32.0),
    ]
    assert [o.derivedFrom[0].reference for o in scored] == [  # type: ignore[index]
        f"QuestionnaireResponse/{r}" for r in responses
    ]
    assert {o.code.coding[0].code for o in scored} == {"SRS"}  # type: ignore[index]
    # The void: the Observation stays, entered-in-error, so a system that copied it retracts it.
    assert [(o.id, o.status) for o in after_void] == [
        (scored[0].id, "final"),
        (scored[1].id, "entered-in-error"),
    ]
    assert points == [{"sessionNumber": 1, "total": 38.0}]  # session 2 withdrawn
    # The amendment: one Observation in the original's place, amended, validated by
    # `observations`, derived from QuestionnaireResponse/<response>/_history/<amendment>.
    assert location == f"QuestionnaireResponse/{responses[0]}/_history/{amendment}"
    assert [(o.id, o.status, value(o.valueQuantity)) for o in after_amend] == [
        (amendment, "amended", 39.2),
        (scored[1].id, "entered-in-error", 32.0),
    ]
    assert after_amend[0].derivedFrom[0].reference == location  # type: ignore[index]
    assert after_amend[1].derivedFrom[0].reference == f"QuestionnaireResponse/{responses[1]}"  # type: ignore[index]
    last = resolved["history"][-1]
    assert last["status"] == "RESOLVED"
    assert "voided" in (last["note"] or ""), last
