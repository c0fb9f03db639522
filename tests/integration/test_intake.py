"""Intake against real PostgreSQL and Kafka: durability, idempotency, errors, Kafka outages."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable

import asyncpg
import httpx

from alliance_contracts.access import Scope
from alliance_contracts.topics import RESPONSES
from alliance_intake.entrypoints.http import create_app
from alliance_intake.settings import IntakeSettings
from tests.conftest import eventually
from tests.helpers import (
    AUTH_ENV,
    Record,
    clinic_system,
    of_case,
    read_topic,
    response_body,
    serving,
)
from tests.stack import Endpoints


def settings(stack: Endpoints, **overrides: str) -> IntakeSettings:
    return IntakeSettings.model_validate({**stack.service_env("intake"), **AUTH_ENV, **overrides})


async def test_accepted_response_is_stored_then_published_once(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    body = response_body(clinic, case, 1, 9.5)
    async with serving(create_app(settings(stack))) as client:
        client.headers.update(clinic_system([clinic]))
        first = await client.post("/v1/responses", json=body)
        again = await client.post("/v1/responses", json=body)
        assert first.status_code == 202, first.text
        assert again.status_code == 202
        event_id = first.json()["event_id"]
        assert first.json()["duplicate"] is False
        assert again.json() == {"event_id": event_id, "duplicate": True}
        stored = await pg.fetchval(
            "SELECT count(*) FROM intake.submission WHERE case_id = $1", case
        )
        assert stored == 1

        async def published() -> list[Record]:
            return of_case(await read_topic(stack.kafka_bootstrap_servers, RESPONSES.name), case)

        records = await eventually(published, within=30)
    assert len(records) == 1
    record = records[0]
    event = json.loads(record.value)
    assert event["event_id"] == event_id
    assert event["event_type"] == "response.submitted"
    assert event["clinic_id"] == clinic
    assert dict(record.headers)["event_type"] == b"response.submitted"


async def test_same_key_with_other_content_is_a_conflict(
    stack: Endpoints, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    async with serving(create_app(settings(stack))) as client:
        client.headers.update(clinic_system([clinic]))
        ok = await client.post(
            "/v1/responses", json=response_body(clinic, case, 1, 9, key="k-12345678")
        )
        clash = await client.post(
            "/v1/responses", json=response_body(clinic, case, 2, 9, key="k-12345678")
        )
    assert ok.status_code == 202
    assert clash.status_code == 409
    assert clash.json()["detail"][0]["loc"] == ["body", "idempotency_key"]


async def test_the_fast_path_and_the_route_answer_alike(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    """A submission sent as `application/json` is answered by `SubmissionFastPath`; one sent as
    another JSON type (`…+json`) by the FastAPI route. The two share one key's idempotency and
    answer the same bytes."""
    clinic, case = ids("clinic"), ids("case")
    raw = json.dumps(response_body(clinic, case, 1, 9.5)).encode()
    async with serving(create_app(settings(stack))) as client:
        client.headers.update(clinic_system([clinic]))
        by_route = await client.post(
            "/v1/responses", content=raw, headers={"content-type": "application/vnd.x+json"}
        )
        by_fast_path = await client.post(
            "/v1/responses", content=raw, headers={"content-type": "application/json"}
        )
        other = ids("other-case")
        fresh = await client.post(
            "/v1/responses",
            content=json.dumps(response_body(clinic, other, 1, 9.5)).encode(),
            headers={"content-type": "application/json; charset=utf-8"},
        )
        refused = await client.post(
            "/v1/responses",
            content=json.dumps(response_body(ids("other-clinic"), case, 1, 9.5)).encode(),
            headers={"content-type": "application/json"},
        )
    assert by_route.status_code == by_fast_path.status_code == fresh.status_code == 202
    event_id = by_route.json()["event_id"]
    assert by_route.json() == {"event_id": event_id, "duplicate": False}
    assert by_fast_path.json() == {"event_id": event_id, "duplicate": True}
    fresh_id = fresh.json()["event_id"]
    assert fresh.content == f'{{"event_id":"{fresh_id}","duplicate":false}}'.encode()
    assert by_route.content == f'{{"event_id":"{event_id}","duplicate":false}}'.encode()
    for r in (by_route, by_fast_path, fresh):
        assert r.headers["content-type"] == "application/json"
        assert int(r.headers["content-length"]) == len(r.content)
    assert refused.status_code == 403  # the route's refusal, naming the clinic
    assert refused.json()["detail"][0]["loc"] == ["body", "clinic_id"]
    stored = await pg.fetchval(
        "SELECT count(*) FROM intake.submission WHERE case_id = ANY($1::text[])", [case, other]
    )
    assert stored == 2


async def test_invalid_input_names_the_field_and_rule(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    case = ids("case")
    body = response_body(ids("clinic"), case, 1, 9)
    body["answers"]["3"] = 12
    async with serving(create_app(settings(stack))) as client:
        client.headers.update(clinic_system([ids("clinic")]))
        bad_item = await client.post("/v1/responses", json=body)
        bad_role = await client.post(
            "/v1/responses",
            json={**response_body(ids("clinic"), case, 1, 9), "respondent_role": "x"},
        )
    assert bad_item.status_code == 422
    assert bad_item.json()["detail"] == [
        {
            "loc": ["body", "answers", "3"],
            "msg": "must be between 0 and 10",
            "type": "rule_violation",
        }
    ]
    assert bad_role.status_code == 422
    assert bad_role.json()["detail"][0]["loc"] == ["body", "respondent_role"]
    assert await pg.fetchval("SELECT count(*) FROM intake.submission WHERE case_id = $1", case) == 0


async def test_answers_are_strict_on_every_path(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    """A boolean or a string as an answer, or an item left out, is refused naming the item: by
    the fast path (`application/json`) and the route alike, and by an amendment (decision
    0028). An OQ-45.2 item left out says how to send a blank."""
    clinic, case = ids("clinic"), ids("case")
    key = f"{case}-srs-1"
    as_string, as_boolean = response_body(clinic, case, 1, 9), response_body(clinic, case, 2, 9)
    as_string["answers"]["3"], as_boolean["answers"]["3"] = "9.0", True
    left_out = response_body(clinic, case, 3, 9)
    del left_out["answers"]["4"]
    oq = response_body(clinic, case, 4, 2, instrument="OQ-45.2")
    del oq["answers"]["14"]
    oq_blank = response_body(clinic, case, 4, 2, instrument="OQ-45.2")
    oq_blank["answers"]["14"] = None
    resource = f"/v1/clinics/{clinic}/responses/{key}"
    answers: dict[str, object] = {"1": 9, "2": 9, "3": 9, "4": 9}
    async with serving(create_app(settings(stack))) as client:
        client.headers.update(clinic_system([clinic]))

        async def post(body: dict[str, object], content_type: str) -> httpx.Response:
            raw = json.dumps(body).encode()
            return await client.post(
                "/v1/responses", content=raw, headers={"content-type": content_type}
            )

        refused = {
            (name, content_type): await post(body, content_type)
            for name, body in [
                ("string", as_string),
                ("boolean", as_boolean),
                ("left_out", left_out),
                ("oq_left_out", oq),
            ]
            for content_type in ("application/json", "application/vnd.x+json")
        }
        stored_on_refusals = await pg.fetchval(
            "SELECT count(*) FROM intake.submission WHERE case_id = $1", case
        )
        blank = await post(oq_blank, "application/json")
        submitted = await client.post(
            "/v1/responses", json=response_body(clinic, case, 1, 9, key=key)
        )
        amended_string = await client.put(
            resource, json={"answers": {**answers, "2": "9"}, "reason": "typo"}
        )
        amended_boolean = await client.put(
            resource, json={"answers": {**answers, "2": False}, "reason": "typo"}
        )
        amended_left_out = await client.put(
            resource, json={"answers": {"1": 9, "3": 9, "4": 9}, "reason": "typo"}
        )
    assert stored_on_refusals == 0
    not_a_number = [
        {
            "loc": ["body", "answers", "3"],
            "msg": "Input should be a valid number",
            "type": "float_type",
        }
    ]
    for content_type in ("application/json", "application/vnd.x+json"):
        for name in ("string", "boolean"):
            assert refused[name, content_type].status_code == 422
            assert refused[name, content_type].json()["detail"] == not_a_number
        assert refused["left_out", content_type].status_code == 422
        assert refused["left_out", content_type].json()["detail"] == [
            {"loc": ["body", "answers", "4"], "msg": "is required", "type": "rule_violation"}
        ]
        assert refused["oq_left_out", content_type].status_code == 422
        assert refused["oq_left_out", content_type].json()["detail"] == [
            {
                "loc": ["body", "answers", "14"],
                "msg": "is required: send null to leave it blank (in FHIR, the item without an "
                "answer); OQ-45.2 allows at most 4 blank items",
                "type": "rule_violation",
            }
        ]
    assert blank.status_code == 202, blank.text
    assert submitted.status_code == 202
    for amendment in (amended_string, amended_boolean):
        assert amendment.status_code == 422
        assert amendment.json()["detail"] == [{**not_a_number[0], "loc": ["body", "answers", "2"]}]
    assert amended_left_out.status_code == 422
    assert amended_left_out.json()["detail"] == [
        {"loc": ["body", "answers", "2"], "msg": "is required", "type": "rule_violation"}
    ]
    assert await pg.fetchval(
        "SELECT count(*) FROM intake.response_correction c JOIN intake.submission s "
        "ON s.event_id = c.response_id WHERE s.case_id = $1",
        case,
    ) == 0  # fmt: skip


async def test_intake_accepts_while_kafka_is_down_and_catches_up(
    stack: Endpoints, ids: Callable[[str], str]
) -> None:
    """The relay starts against an address where no Kafka answers (Kafka down), then is
    pointed at the real broker (Kafka back): everything accepted meanwhile is published."""
    clinic, case = ids("clinic"), ids("case")
    app = create_app(settings(stack, KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1"))
    async with serving(app) as client:
        client.headers.update(clinic_system([clinic]))
        for session in range(1, 6):
            r = await client.post("/v1/responses", json=response_body(clinic, case, session, 9))
            assert r.status_code == 202
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["kafka"] == "down"
        assert (await client.get("/v1/outbox")).json()["pending"] >= 5

        _, relay = app.state.runtime.require()
        relay.bootstrap_servers = stack.kafka_bootstrap_servers  # Kafka is back

        async def all_published() -> bool:
            pending: int = (await client.get("/v1/outbox")).json()["pending"]
            return pending == 0

        await eventually(all_published, within=90)
    records = of_case(await read_topic(stack.kafka_bootstrap_servers, RESPONSES.name), case)
    sessions = sorted(json.loads(r.value)["payload"]["session_number"] for r in records)
    assert sessions == [1, 2, 3, 4, 5]


async def test_a_response_is_amended_then_voided_by_its_key_with_its_history_kept(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    body = response_body(clinic, case, 1, 9.5, key=f"{case}-srs-1")
    resource = f"/v1/clinics/{clinic}/responses/{case}-srs-1"
    corrected = {"1": 9.5, "2": 9.5, "3": 2.0, "4": 9.5}
    amendment = {"answers": corrected, "reason": "item 3 mistyped"}
    void = {"reason": "keyed against the wrong client"}
    async with serving(create_app(settings(stack))) as client:
        client.headers.update(clinic_system([clinic]))
        submitted = await client.post("/v1/responses", json=body)
        assert submitted.status_code == 202, submitted.text
        original = submitted.json()["event_id"]
        amended = await client.put(resource, json=amendment)
        assert amended.status_code == 202, amended.text
        assert amended.json()["duplicate"] is False
        # Accepted is durable before the answer.
        assert await pg.fetchval(
            "SELECT count(*) FROM intake.response_correction WHERE response_id = $1",
            uuid.UUID(original),
        ) == 1  # fmt: skip
        amended_again = await client.put(resource, json=amendment)
        assert amended_again.status_code == 200
        assert amended_again.json() == {"event_id": amended.json()["event_id"], "duplicate": True}
        current = (await client.get(resource)).json()
        assert (current["status"], current["answers"]) == ("amended", corrected)
        voided = await client.request("DELETE", resource, json=void)
        assert voided.status_code == 202, voided.text
        voided_again = await client.request("DELETE", resource, json=void)
        assert voided_again.json() == {"event_id": voided.json()["event_id"], "duplicate": True}
        assert voided_again.status_code == 200
        after_void = await client.put(resource, json={**amendment, "reason": "another"})
        assert after_void.status_code == 409
        assert after_void.json()["detail"][0]["loc"] == ["path", "idempotency_key"]
        assert "voided" in after_void.json()["detail"][0]["msg"]
        history = await client.get(resource)

        async def published() -> list[Record] | None:
            records = of_case(await read_topic(stack.kafka_bootstrap_servers, RESPONSES.name), case)
            return records if len(records) >= 3 else None

        records = await eventually(published, within=30)
    assert history.status_code == 200
    trail = history.json()
    assert (trail["status"], trail["answers"], trail["response_id"]) == ("voided", None, original)
    assert [(v["version"], v["kind"], v["reason"]) for v in trail["versions"]] == [
        (1, "submitted", None),
        (2, "amended", "item 3 mistyped"),
        (3, "voided", "keyed against the wrong client"),
    ]
    assert trail["versions"][0]["answers"] == body["answers"]  # the original is kept
    assert trail["versions"][1]["answers"] == corrected
    assert {v["by"] for v in trail["versions"][1:]} == {"ehr-test"}
    # On the case's partition, in order after the original, once each.
    events = [json.loads(r.value) for r in records]
    assert [e["event_type"] for e in events] == [
        "response.submitted",
        "response.amended",
        "response.voided",
    ]
    assert events[1]["event_id"] == amended.json()["event_id"]
    assert events[1]["payload"] == {
        "amends": original,
        "answers": corrected,
        "reason": "item 3 mistyped",
        "amended_by": "ehr-test",
    }
    assert events[2]["payload"]["voids"] == original
    assert dict(records[1].headers)["event_type"] == b"response.amended"


async def test_corrections_name_the_field_and_rule_they_break(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    key = f"{case}-srs-1"
    resource = f"/v1/clinics/{clinic}/responses/{key}"
    async with serving(create_app(settings(stack))) as client:
        client.headers.update(clinic_system([clinic]))
        unknown = await client.put(
            f"/v1/clinics/{clinic}/responses/no-such-key-1",
            json={"answers": {"1": 9}, "reason": "typo"},
        )
        submitted = await client.post(
            "/v1/responses", json=response_body(clinic, case, 1, 9, key=key)
        )
        assert submitted.status_code == 202
        out_of_range = await client.put(
            resource, json={"answers": {"1": 9, "2": 9, "3": 12, "4": 9}, "reason": "typo"}
        )
        extra_item = await client.put(
            resource, json={"answers": {"1": 9, "2": 9, "3": 9, "4": 9, "5": 9}, "reason": "x"}
        )
        empty_reason = await client.request("DELETE", resource, json={"reason": ""})
        blank_reason = await client.request("DELETE", resource, json={"reason": "   "})
        unknown_get = await client.get(f"/v1/clinics/{clinic}/responses/no-such-key-1")
        still = (await client.get(resource)).json()
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == [
        {
            "loc": ["path", "idempotency_key"],
            "msg": "idempotency_key: no response with this key in the clinic",
            "type": "not_found",
        }
    ]
    assert unknown_get.status_code == 404
    assert out_of_range.status_code == 422
    assert out_of_range.json()["detail"] == [
        {
            "loc": ["body", "answers", "3"],
            "msg": "must be between 0 and 10",
            "type": "rule_violation",
        }
    ]
    assert extra_item.status_code == 422
    assert extra_item.json()["detail"][0]["loc"] == ["body", "answers", "5"]
    assert empty_reason.status_code == 422
    assert empty_reason.json()["detail"][0]["loc"] == ["body", "reason"]
    assert blank_reason.status_code == 422
    assert blank_reason.json()["detail"] == [
        {"loc": ["body", "reason"], "msg": "must not be empty", "type": "rule_violation"}
    ]
    assert (still["status"], len(still["versions"])) == ("current", 1)
    assert await pg.fetchval(
        "SELECT count(*) FROM intake.response_correction c JOIN intake.submission s "
        "ON s.event_id = c.response_id WHERE s.case_id = $1",
        case,
    ) == 0  # fmt: skip


async def test_case_demographics_are_published_on_the_cases_partition(
    stack: Endpoints, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    resource = f"/v1/clinics/{clinic}/cases/{case}/demographics"
    change = {
        "age_group": "adolescent",
        "oq_norm_set": "NL",
        "effective_from": "2026-01-05T15:00:00Z",
        "idempotency_key": f"{case}-demographics",
    }
    async with serving(create_app(settings(stack))) as client:
        client.headers.update(clinic_system([clinic], (Scope.CLINIC_ADMIN,)))
        accepted = await client.put(resource, json=change)
        assert accepted.status_code == 202, accepted.text
        again = await client.put(resource, json=change)
        assert again.json() == {"event_id": accepted.json()["event_id"], "duplicate": True}
        empty = await client.put(
            resource,
            json={"effective_from": "2026-01-05T15:00:00Z", "idempotency_key": f"{case}-empty"},
        )
        future = await client.put(
            resource,
            json={**change, "effective_from": "2999-01-01T00:00:00Z", "idempotency_key": "k-fut"},
        )
        unknown = await client.put(
            resource, json={**change, "oq_norm_set": "UK", "idempotency_key": f"{case}-uk"}
        )

        async def published() -> list[Record]:
            return of_case(await read_topic(stack.kafka_bootstrap_servers, RESPONSES.name), case)

        records = await eventually(published, within=30)
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["loc"] == ["body", "age_group"]
    assert future.status_code == 422
    assert future.json()["detail"][0]["loc"] == ["body", "effective_from"]
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "oq_norm_set"]
    [record] = records
    event = json.loads(record.value)
    assert event["event_id"] == accepted.json()["event_id"]
    assert event["event_type"] == "case.demographics.set"
    assert (event["clinic_id"], event["case_id"]) == (clinic, case)
    assert event["payload"] == {
        "age_group": "adolescent",
        "oq_norm_set": "NL",
        "effective_from": "2026-01-05T15:00:00Z",
        "set_by": "ehr-test",
    }
    assert dict(record.headers)["event_type"] == b"case.demographics.set"


async def test_a_worker_with_a_stale_configuration_hint_stamps_the_latest_version(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    """Two worker processes of one intake: one changes the clinic's configuration, the other,
    whose hint still says version 0, stamps its next response with version 1 (decision 0019)."""
    clinic, case = ids("clinic"), ids("case")
    async with (
        serving(create_app(settings(stack))) as admin_worker,
        serving(create_app(settings(stack))) as other_worker,
    ):
        for client in (admin_worker, other_worker):
            client.headers.update(clinic_system([clinic]))
        before = await other_worker.post("/v1/responses", json=response_body(clinic, case, 1, 9))
        change = {"overrides": {}, "idempotency_key": f"config-{clinic}"}
        configured = await admin_worker.patch(f"/v1/clinics/{clinic}/configuration", json=change)
        after = await other_worker.post("/v1/responses", json=response_body(clinic, case, 2, 9))
    assert (before.status_code, configured.status_code, after.status_code) == (202, 202, 202)
    stamps = await pg.fetch(
        "SELECT (event->>'config_version')::int AS version FROM intake.submission "
        "WHERE case_id = $1 ORDER BY (event->'payload'->>'session_number')::int",
        case,
    )
    assert [r["version"] for r in stamps] == [0, 1]


async def test_concurrent_repeats_of_a_key_store_one_submission_and_one_outbox_row(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    """The one-statement submit under a race: each repeat waits for the first to commit and
    answers with its event id."""
    clinic, case = ids("clinic"), ids("case")
    body = response_body(clinic, case, 1, 9)
    async with serving(create_app(settings(stack))) as client:
        client.headers.update(clinic_system([clinic]))
        answers = await asyncio.gather(
            *(client.post("/v1/responses", json=body) for _ in range(12))
        )
        assert {a.status_code for a in answers} == {202}
        receipts = [a.json() for a in answers]
        assert len({r["event_id"] for r in receipts}) == 1
        assert sorted(r["duplicate"] for r in receipts) == [False] + [True] * 11
        [event_id] = {uuid.UUID(r["event_id"]) for r in receipts}
        stored = await pg.fetchval(
            "SELECT count(*) FROM intake.submission WHERE case_id = $1", case
        )
        assert stored == 1

        async def published() -> list[Record]:
            return of_case(await read_topic(stack.kafka_bootstrap_servers, RESPONSES.name), case)

        await eventually(published, within=30)
        await asyncio.sleep(1)  # a second outbox row would be published by now
        records = of_case(await read_topic(stack.kafka_bootstrap_servers, RESPONSES.name), case)
    assert [json.loads(r.value)["event_id"] for r in records] == [str(event_id)]
