"""FHIR from intake over HTTP, with real tokens (RS256, the service's own verification): the
instruments as Questionnaires, each validated with `fhir.resources` (decision 0028)."""

from __future__ import annotations

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.questionnaire import Questionnaire

from alliance_contracts.access import Scope
from alliance_contracts.fhir import QUESTIONNAIRES
from alliance_contracts.instruments import REGISTRY
from alliance_intake.entrypoints.http import create_app
from alliance_intake.settings import IntakeSettings
from tests.helpers import AUTH_ENV, bearer, clinic_system, serving
from tests.stack import Endpoints

FHIR_JSON = "application/fhir+json"


async def test_questionnaires_are_served_to_any_valid_token(stack: Endpoints) -> None:
    settings = IntakeSettings.model_validate({**stack.service_env("intake"), **AUTH_ENV})
    async with serving(create_app(settings)) as client:
        # A clinic system without `responses:write`, and a clinician: a Questionnaire holds
        # no client data, so any valid token may read it; none at all may not.
        ehr = clinic_system(["clinic-north"], (Scope.CLINIC_ADMIN,))
        listed = await client.get("/fhir/Questionnaire", headers=ehr)
        one = {
            ident: await client.get(f"/fhir/Questionnaire/{ident}", headers=ehr)
            for ident in QUESTIONNAIRES
        }
        by_person = await client.get(
            "/fhir/Questionnaire/oq-45.2-client", headers=bearer("clinician", ["c-1"], "cl-1")
        )
        canonical = "https://alliance.example/fhir/Questionnaire/wai-sr-therapist"
        by_url = await client.get("/fhir/Questionnaire", params={"url": canonical}, headers=ehr)
        other_version = await client.get(
            "/fhir/Questionnaire", params={"url": f"{canonical}|1999"}, headers=ehr
        )
        unknown = await client.get("/fhir/Questionnaire/no-such-form", headers=ehr)
        anonymous = await client.get("/fhir/Questionnaire")
        forged = await client.get(
            "/fhir/Questionnaire/srs-client", headers={"Authorization": "Bearer not-a-jwt"}
        )

    assert listed.status_code == 200, listed.text
    assert listed.headers["content-type"] == FHIR_JSON
    bundle = Bundle.model_validate_json(listed.content)
    assert (bundle.type, bundle.total) == ("searchset", len(QUESTIONNAIRES))
    served = [Questionnaire.model_validate(e["resource"]) for e in listed.json()["entry"]]
    assert sorted(q.id or "" for q in served) == sorted(QUESTIONNAIRES)
    assert [link.url for link in bundle.link or []] == ["http://test/fhir/Questionnaire"]
    for ident, answer in one.items():
        assert answer.status_code == 200, (ident, answer.text)
        assert answer.headers["content-type"] == FHIR_JSON
        resource = Questionnaire.model_validate_json(answer.content)
        assert (resource.id, resource.status) == (ident, "active")
        assert resource.url == f"https://alliance.example/fhir/Questionnaire/{ident}"
        instrument = REGISTRY[(resource.code or [])[0].code or ""]
        assert resource.version == instrument.version
        assert [i.linkId for i in resource.item or []] == [
            str(n) for n in range(1, instrument.items + 1)
        ]
        assert answer.json() == QUESTIONNAIRES[ident]  # as generated, byte for byte in JSON
    assert by_person.status_code == 200
    oq = Questionnaire.model_validate_json(by_person.content)
    assert {(i.type, i.required) for i in oq.item or []} == {("integer", False)}
    assert by_url.status_code == 200
    found = Bundle.model_validate_json(by_url.content)
    assert [e.fullUrl for e in found.entry or []] == [canonical]
    assert Bundle.model_validate_json(other_version.content).total == 0
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == FHIR_JSON
    outcome = OperationOutcome.model_validate_json(unknown.content)
    assert [(i.severity, i.code) for i in outcome.issue] == [("error", "not-found")]
    for refused in (anonymous, forged):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
