"""FHIR from intake over HTTP, with real tokens (RS256, the service's own verification), on real
PostgreSQL and Kafka: the instruments as Questionnaires, each validated with `fhir.resources`;
QuestionnaireResponses in, alone and in transaction Bundles; every refusal on the FHIR paths an
OperationOutcome (decision 0028)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.questionnaire import Questionnaire

from alliance_contracts.access import Scope
from alliance_contracts.fhir import (
    CLINIC_EXTENSION,
    QUESTIONNAIRES,
    REASON_EXTENSION,
    SESSION_SYSTEM,
)
from alliance_contracts.instruments import REGISTRY
from alliance_contracts.topics import RESPONSES
from alliance_intake.entrypoints.http import create_app
from alliance_intake.settings import IntakeSettings
from tests.conftest import eventually
from tests.helpers import (
    AUTH_ENV,
    Record,
    bearer,
    clinic_system,
    of_case,
    questionnaire_response,
    read_topic,
    serving,
    transaction,
)
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


async def test_refusals_on_the_fhir_paths_are_operation_outcomes_and_json_elsewhere(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    resource = questionnaire_response(case, 1, 9.5, key=f"{case}-qr-1")
    elsewhere = {**resource, "extension": [*resource["extension"], clinic_of(ids("other"))]}
    settings = intake_settings(stack)
    too_long = b"{" + b" " * settings.max_body_bytes + b"}"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read until the limit
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b" " * 65536

    writer = clinic_system([clinic], (Scope.RESPONSES_WRITE,))
    fhir_json = {"content-type": FHIR_JSON}
    async with serving(create_app(settings)) as client:
        post = "/fhir/QuestionnaireResponse"
        answers = {
            "no token": await client.post(post, json=resource),
            "forged": await client.post(post, json=resource, headers={"authorization": "Bearer x"}),
            "no scope": await client.post(
                post, json=resource, headers=clinic_system([clinic], (Scope.CLINIC_ADMIN,))
            ),
            "other clinic": await client.post(post, json=elsewhere, headers=writer),
            "too long": await client.post(post, content=too_long, headers=writer | fhir_json),
            "too long, chunked": await client.post(
                "/fhir", content=chunks(), headers=writer | fhir_json
            ),
            "text": await client.post(
                post, content=json.dumps(resource), headers=writer | {"content-type": "text/plain"}
            ),
            "no type": await client.post(post, content=json.dumps(resource), headers=writer),
            "bad parameter": await client.get(
                "/fhir/Questionnaire", params={"url": "u" * 300}, headers=writer
            ),
            "no such type": await client.get("/fhir/Patient/p-1", headers=writer),
            "wrong method": await client.delete("/fhir/Questionnaire/srs-client", headers=writer),
        }
        json_api = await client.post("/v1/responses", json={})
        json_api_too_long = await client.post("/v1/responses", content=too_long, headers=writer)
    assert await stored(pg, clinic) == (0, 0)

    expected = {
        "no token": (401, "login"),
        "forged": (401, "login"),
        "no scope": (403, "forbidden"),
        "other clinic": (403, "forbidden"),
        "too long": (413, "too-long"),
        "too long, chunked": (413, "too-long"),
        "text": (415, "not-supported"),
        "no type": (415, "not-supported"),
        "bad parameter": (422, "invalid"),
        "no such type": (404, "not-found"),
        "wrong method": (405, "not-supported"),
    }
    for name, answer in answers.items():
        assert answer.headers["content-type"] == FHIR_JSON, (name, answer.text)
        outcome = OperationOutcome.model_validate_json(answer.content)
        assert (answer.status_code, [i.code for i in outcome.issue]) == (
            expected[name][0],
            [expected[name][1]],
        ), name
        assert all(i.diagnostics and "{" not in i.diagnostics for i in outcome.issue), name
    assert answers["no token"].headers["www-authenticate"].startswith("Bearer")
    assert "responses:write" in (answers["no scope"].json()["issue"][0]["diagnostics"])
    assert answers["bad parameter"].json()["issue"][0]["expression"] == ["url"]
    assert "DELETE" not in answers["wrong method"].headers["allow"]
    # The JSON API keeps FastAPI's `detail`.
    assert json_api.status_code == 401
    assert json_api.headers["content-type"] == "application/json"
    assert json_api.json()["detail"][0]["loc"] == ["header", "authorization"]
    assert json_api_too_long.status_code == 413
    assert json_api_too_long.headers["content-type"] != FHIR_JSON


def clinic_of(clinic: str) -> dict[str, Any]:
    return {"url": CLINIC_EXTENSION, "valueString": clinic}


def intake_settings(stack: Endpoints) -> IntakeSettings:
    return IntakeSettings.model_validate({**stack.service_env("intake"), **AUTH_ENV})


async def events_of(stack: Endpoints, case: str, count: int) -> list[dict[str, Any]]:
    """The case's events on the responses topic, once there are `count`."""

    async def published() -> list[Record] | None:
        found = of_case(await read_topic(stack.kafka_bootstrap_servers, RESPONSES.name), case)
        return found if len(found) >= count else None

    return [json.loads(r.value) for r in await eventually(published, within=30)]


async def stored(pg: asyncpg.Pool, clinic: str) -> tuple[int, int]:
    """The clinic's submissions and corrections in intake."""
    submissions = await pg.fetchval(
        "SELECT count(*) FROM intake.submission WHERE clinic_id = $1", clinic
    )
    corrections = await pg.fetchval(
        "SELECT count(*) FROM intake.response_correction c JOIN intake.submission s "
        "ON s.event_id = c.response_id WHERE s.clinic_id = $1",
        clinic,
    )
    return submissions, corrections


async def test_a_transaction_of_two_responses_is_recorded_and_published(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    bundle = transaction(
        questionnaire_response(case, 1, 9.5, key=f"{case}-qr-1"),
        questionnaire_response(case, 2, 8.0, key=f"{case}-qr-2"),
    )
    async with serving(create_app(intake_settings(stack))) as client:
        client.headers.update(clinic_system([clinic], (Scope.RESPONSES_WRITE,)))
        first = await client.post("/fhir", json=bundle, headers={"content-type": FHIR_JSON})
        again = await client.post("/fhir", json=bundle)
        stored_now = await stored(pg, clinic)
        events = await events_of(stack, case, 2)

    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == FHIR_JSON
    answer = Bundle.model_validate_json(first.content)
    assert answer.type == "transaction-response"
    statuses = [e.response.status for e in answer.entry or [] if e.response]
    assert statuses == ["201 Created", "201 Created"]
    locations = [e.response.location for e in answer.entry or [] if e.response]
    assert [e["event_id"] for e in events] == [str(loc).split("/")[1] for loc in locations]
    assert [e["event_type"] for e in events] == ["response.submitted"] * 2
    assert [e["payload"]["session_number"] for e in events] == [1, 2]
    assert events[0]["payload"]["answers"] == {"1": 9.5, "2": 9.5, "3": 9.5, "4": 9.5}
    assert events[0]["payload"]["respondent_role"] == "client"
    assert events[0]["payload"]["therapist_id"] == "th-1"
    # A retry of the Bundle records nothing new: each entry a repeat, at the same location.
    repeat = Bundle.model_validate_json(again.content)
    assert [(e.response.status, e.response.location) for e in repeat.entry or [] if e.response] == [
        ("200 OK", loc) for loc in locations
    ]
    assert stored_now == (2, 0)


async def test_a_bundle_with_one_bad_entry_stores_nothing_and_names_it(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    good = questionnaire_response(case, 1, 9.5, key=f"{case}-qr-1")
    out_of_range = questionnaire_response(case, 2, 8.0, key=f"{case}-qr-2")
    out_of_range["item"][2]["answer"][0]["valueDecimal"] = 12.5
    unknown = questionnaire_response(case, 3, 8.0, key=f"{case}-never-sent", status="amended")
    not_a_decimal = questionnaire_response(case, 4, 8.0, key=f"{case}-qr-4")
    not_a_decimal["item"][1]["answer"][0]["valueDecimal"] = "8,0"
    named = questionnaire_response(case, 5, 8.0, key=f"{case}-qr-5")
    named["subject"]["display"] = "A. Client"
    async with serving(create_app(intake_settings(stack))) as client:
        client.headers.update(clinic_system([clinic], (Scope.RESPONSES_WRITE,)))
        rule = await client.post("/fhir", json=transaction(good, out_of_range))
        not_found = await client.post("/fhir", json=transaction(good, unknown))
        structure = await client.post("/fhir", json=transaction(good, not_a_decimal))
        identifying = await client.post("/fhir/QuestionnaireResponse", json=named)
        not_json = await client.post(
            "/fhir", content=b"{not json", headers={"content-type": FHIR_JSON}
        )
    assert await stored(pg, clinic) == (0, 0)  # nothing of any of them

    def issues(answer: httpx.Response) -> list[tuple[str | None, str | None, list[str]]]:
        assert answer.headers["content-type"] == FHIR_JSON
        outcome = OperationOutcome.model_validate_json(answer.content)
        return [(i.severity, i.code, [str(e) for e in i.expression or []]) for i in outcome.issue]

    assert rule.status_code == 422, rule.text
    path = "Bundle.entry[1].resource.item[2].answer[0].valueDecimal"
    assert issues(rule) == [("error", "invalid", [path])]
    assert rule.json()["issue"][0]["diagnostics"] == "must be between 0 and 10"
    assert not_found.status_code == 422
    assert issues(not_found) == [
        ("error", "not-found", ["Bundle.entry[1].resource.identifier.value"])
    ]
    assert structure.status_code == 400
    assert issues(structure) == [
        ("error", "structure", ["Bundle.entry[1].resource.item[1].answer[0].valueDecimal"])
    ]
    assert identifying.status_code == 422
    assert issues(identifying) == [("error", "security", ["QuestionnaireResponse.subject.display"])]
    assert "A. Client" not in identifying.text
    assert not_json.status_code == 400
    assert issues(not_json) == [("error", "structure", [])]


async def test_amended_and_entered_in_error_amend_and_void_the_response(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    key = f"{case}-qr-1"
    amended = questionnaire_response(case, 1, 7.0, key=key, status="amended")
    voided = questionnaire_response(case, 1, 7.0, key=key, status="entered-in-error")
    voided["extension"].append({"url": REASON_EXTENSION, "valueString": "wrong client"})
    async with serving(create_app(intake_settings(stack))) as client:
        client.headers.update(clinic_system([clinic], (Scope.RESPONSES_WRITE,)))
        # The submission and its amendment in one transaction: in order.
        both = await client.post(
            "/fhir", json=transaction(questionnaire_response(case, 1, 9.5, key=key), amended)
        )
        void = await client.post("/fhir/QuestionnaireResponse", json=voided)
        void_again = await client.post("/fhir/QuestionnaireResponse", json=voided)
        after_void = await client.post("/fhir/QuestionnaireResponse", json=amended)
        events = await events_of(stack, case, 3)
    assert both.status_code == 200, both.text
    locations = [e["response"]["location"] for e in both.json()["entry"]]
    assert void.status_code == 201, void.text
    assert void.headers["content-type"] == FHIR_JSON
    OperationOutcome.model_validate_json(void.content)
    assert void_again.status_code == 200  # a repeat of the latest correction
    assert void_again.headers["location"] == void.headers["location"]
    assert after_void.status_code == 409
    assert after_void.json()["issue"][0]["expression"] == ["QuestionnaireResponse.identifier.value"]
    submitted, amendment, void_event = events
    assert [e["event_type"] for e in events] == [
        "response.submitted",
        "response.amended",
        "response.voided",
    ]
    response_id = submitted["event_id"]
    assert amendment["payload"]["amends"] == void_event["payload"]["voids"] == response_id
    assert amendment["payload"]["answers"] == {"1": 7.0, "2": 7.0, "3": 7.0, "4": 7.0}
    assert amendment["payload"]["reason"] == "amended by the clinic system (FHIR status amended)"
    assert void_event["payload"]["reason"] == "wrong client"
    assert locations == [
        f"QuestionnaireResponse/{response_id}/_history/{response_id}",
        f"QuestionnaireResponse/{response_id}/_history/{amendment['event_id']}",
    ]
    assert void.headers["location"] == (
        f"QuestionnaireResponse/{response_id}/_history/{void_event['event_id']}"
    )
    assert await stored(pg, clinic) == (1, 2)


async def test_the_session_from_the_encounter_and_an_amendment_of_another_response_refused(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    key = f"{case}-qr-1"
    # The session as the encounter's identifier, without the session-number extension.
    original = questionnaire_response(case, 1, 9.5, key=key)
    original["extension"] = [original["extension"][0]]
    original["encounter"] = {"identifier": {"system": SESSION_SYSTEM, "value": "7"}}
    disagreeing = questionnaire_response(case, 2, 9.5, key=f"{case}-qr-2")
    disagreeing["encounter"] = {"identifier": {"system": SESSION_SYSTEM, "value": "7"}}
    amended = {**original, "status": "amended"}
    elsewhere = {
        **amended,
        "questionnaire": "https://alliance.example/fhir/Questionnaire/csrs-child",
        "subject": {"reference": f"Patient/{ids('other-case')}"},
        "source": {"reference": "RelatedPerson/mother-1"},
    }
    async with serving(create_app(intake_settings(stack))) as client:
        client.headers.update(clinic_system([clinic], (Scope.RESPONSES_WRITE,)))
        submitted = await client.post("/fhir/QuestionnaireResponse", json=original)
        refused_session = await client.post("/fhir", json=transaction(disagreeing))
        refused_amendment = await client.post("/fhir", json=transaction(elsewhere))
        amendment = await client.post("/fhir/QuestionnaireResponse", json=amended)
        events = await events_of(stack, case, 2)
    assert submitted.status_code == 201, submitted.text
    assert refused_session.status_code == 422, refused_session.text
    [issue] = OperationOutcome.model_validate_json(refused_session.content).issue
    assert issue.expression == ["Bundle.entry[0].resource.encounter.identifier.value"]
    assert refused_amendment.status_code == 422, refused_amendment.text
    outcome = OperationOutcome.model_validate_json(refused_amendment.content)
    assert [(i.code, i.expression) for i in outcome.issue] == [
        ("invalid", ["Bundle.entry[0].resource.questionnaire"]),
        ("invalid", ["Bundle.entry[0].resource.subject.reference"]),
        ("invalid", ["Bundle.entry[0].resource.source.reference"]),
    ]
    assert all("original" in (i.diagnostics or "") for i in outcome.issue)
    assert amendment.status_code == 201, amendment.text  # the same resource, amended: accepted
    submitted_event, amendment_event = events
    assert submitted_event["payload"]["session_number"] == 7
    assert amendment_event["event_type"] == "response.amended"
    assert await stored(pg, clinic) == (1, 1)  # nothing of the refused ones
