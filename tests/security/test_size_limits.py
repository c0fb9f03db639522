"""Every size is bounded at the door (docs/limits.md): bodies (also chunked), every string of a
body, GraphQL documents, operation names and variables; and what the audit keeps of a read."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from alliance_alerts.entrypoints.app import create_app as create_alerts
from alliance_contracts.events.audit import MAX_AUDITED_IDS, MAX_OPERATION_NAME
from alliance_contracts.topics import AUDIT
from alliance_gateway.adapters import writes
from alliance_gateway.entrypoints.app import create_app as create_gateway
from alliance_gateway.graphql.cost import MAX_DOCUMENT_BYTES, MAX_VARIABLES_BYTES
from alliance_gateway.settings import GatewaySettings
from alliance_intake.domain.configuration import MAX_CONFIGURATION_BYTES, MAX_OVERRIDES_BYTES
from alliance_intake.entrypoints.http import create_app as create_intake
from alliance_intake.settings import IntakeSettings
from alliance_platform.http_security import PUBLIC_PATHS
from alliance_platform.kafka import DEFAULT_MESSAGE_MAX_BYTES
from alliance_platform.tokens import TokenVerifier
from tests.conftest import eventually
from tests.helpers import (
    AUTH_ENV,
    Record,
    bearer,
    clinic_system,
    read_topic,
    response_body,
    serving,
)
from tests.integration.test_webhooks import settings as alerts_settings
from tests.stack import Endpoints

LIMIT = 64 * 1024  # a small body limit, so the tests send little


def intake_settings(stack: Endpoints) -> IntakeSettings:
    env = {**stack.service_env("intake"), **AUTH_ENV, "ALLIANCE_MAX_BODY_BYTES": str(LIMIT)}
    return IntakeSettings.model_validate(env)


def gateway_settings(stack: Endpoints, body_limit: int = LIMIT) -> GatewaySettings:
    env = {**stack.service_env("gateway"), **AUTH_ENV, "ALLIANCE_MAX_BODY_BYTES": str(body_limit)}
    return GatewaySettings.model_validate(env)


async def chunks(total: int, size: int = 8192) -> AsyncIterator[bytes]:
    """A body without Content-Length (chunked): the limit must count what arrives."""
    yield b'{"pad": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


def source_of(n: int) -> dict[str, Any]:
    return {"value": 0.25, "source": "s" * n, "confidence": "U"}


async def test_intake_names_each_oversize_string_and_counts_chunked_bodies(
    stack: Endpoints, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    ok = response_body(clinic, case, 1, 9)
    config = f"/v1/clinics/{clinic}/configuration"
    refused = {
        "instrument": ("POST", "/v1/responses", {**ok, "instrument": "S" * 33}),
        "form": ("POST", "/v1/responses", {**ok, "form": "f" * 33}),
        "case id": ("POST", "/v1/responses", {**ok, "case_id": "c" * 65}),
        "idempotency key": ("POST", "/v1/responses", {**ok, "idempotency_key": "k" * 129}),
        "source": (
            "PATCH", config,
            {"overrides": {"split_gap": source_of(501)}, "idempotency_key": ids("cfg-src")},
        ),
        "configuration key": (
            "PATCH", config,
            {"overrides": {"alliance_cutoffs": {"K" * 33: source_of(10)}},
             "idempotency_key": ids("cfg-key")},
        ),
        "overrides": (
            "PATCH", config,
            {"overrides": {"alliance_sample_sd": {f"I{i}": source_of(400) for i in range(80)}},
             "idempotency_key": ids("cfg-big")},
        ),
        "void reason": (
            "DELETE", f"/v1/clinics/{clinic}/responses/{ok['idempotency_key']}",
            {"reason": "r" * 2001},
        ),
    }  # fmt: skip
    expected = {
        "instrument": (["body", "instrument"], "at most 32 characters"),
        "form": (["body", "form"], "at most 32 characters"),
        "case id": (["body", "case_id"], "at most 64 characters"),
        "idempotency key": (["body", "idempotency_key"], "at most 128 characters"),
        "source": (["body", "overrides", "split_gap", "source"], "at most 500 characters"),
        "configuration key": (["body", "overrides", "alliance_cutoffs"], "at most 32 characters"),
        "overrides": (["body", "overrides"], f"at most {MAX_OVERRIDES_BYTES} bytes as JSON"),
        "void reason": (["body", "reason"], "at most 2000 characters"),
    }
    async with serving(create_intake(intake_settings(stack))) as client:
        client.headers.update(clinic_system([clinic]))
        assert (await client.post("/v1/responses", json=ok)).status_code == 202
        for name, (method, path, body) in refused.items():
            r = await client.request(method, path, json=body)
            assert r.status_code == 422, (name, r.text)
            [error] = r.json()["detail"]
            loc, rule = expected[name]
            assert error["loc"][: len(loc)] == loc, (name, error)
            assert rule in error["msg"], (name, error)
            assert "sss" not in r.text  # the rule, never the value

        # Each version keeps the ones before: a configuration cannot pile up past its bound.
        answers = []
        for batch in range(8):
            sds = {f"I{batch}-{i}": source_of(480) for i in range(25)}
            change = {"overrides": {"alliance_sample_sd": sds}, "idempotency_key": ids(f"p{batch}")}
            answers.append(await client.patch(config, json=change))
            if answers[-1].status_code != 202:
                break
        assert [a.status_code for a in answers[:-1]] == [202] * (len(answers) - 1)
        assert answers[-1].status_code == 422, answers[-1].text
        assert answers[-1].json()["detail"] == [
            {
                "loc": ["body", "overrides"],
                "msg": f"the resulting configuration must be at most {MAX_CONFIGURATION_BYTES} "
                "bytes as JSON",
                "type": "rule_violation",
            }
        ]

        streamed = await client.post(
            "/v1/responses",
            content=chunks(2 * LIMIT),
            headers={"content-type": "application/json"},
        )
        assert streamed.status_code == 413
        assert "content-length" not in streamed.request.headers
        anonymous = await client.patch(
            config,
            json={"overrides": {}, "idempotency_key": ids("anon")},
            headers={"authorization": ""},
        )
        assert anonymous.status_code == 401


async def test_no_http_route_answers_without_a_token(stack: Endpoints) -> None:
    """Every route of intake and of alerts' webhook API but health and the API documents."""
    intake = create_intake(intake_settings(stack))
    alerts = create_alerts(alerts_settings(stack, 3))
    for app in (intake, alerts):
        routes = [  # every operation of the API, included routers too
            (method.upper(), path.replace("{", "").replace("}", ""))
            for path, operations in app.openapi()["paths"].items()
            if path not in PUBLIC_PATHS
            for method in operations
        ]
        assert routes
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for method, path in routes:
                r = await client.request(method, path, json={"pad": "x"})
                assert r.status_code == 401, (method, path, r.status_code)


async def test_alerts_and_the_gateway_count_chunked_bodies(stack: Endpoints) -> None:
    clinic = "clinic-limits"
    alerts = create_alerts(alerts_settings(stack, 3).model_copy(update={"max_body_bytes": LIMIT}))
    async with serving(alerts) as client:
        client.headers.update(bearer("clinic_admin", [clinic]))
        r = await client.put(
            f"/v1/clinics/{clinic}/webhook",
            content=chunks(2 * LIMIT),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 413
        long_url = {"url": "https://hooks.example.org/" + "p" * 2048}
        r = await client.put(f"/v1/clinics/{clinic}/webhook", json=long_url)
        assert r.status_code == 422, r.text
        [error] = r.json()["detail"]
        assert (error["loc"], error["type"]) == (["body", "url"], "url_too_long")
        assert "ppp" not in r.text
    async with serving(create_gateway(gateway_settings(stack))) as client:
        client.headers.update(bearer("supervisor", [clinic]))
        r = await client.post(
            "/graphql", content=chunks(2 * LIMIT), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413


async def test_gateway_refuses_oversize_documents_operation_names_and_variables(
    stack: Endpoints,
) -> None:
    clinic = "clinic-limits"
    case = '{ case(clinicId: "clinic-limits", caseId: "c-1") { caseId } }'
    long_name = "Q" * (MAX_OPERATION_NAME + 1)
    requests = {
        "document": ({"query": case + " " * MAX_DOCUMENT_BYTES}, "query: the document"),
        "operationName": (
            {"query": f"query {long_name} {case}", "operationName": long_name},
            "operation name: must be at most 128 characters",
        ),
        "name in the document": (
            {"query": f"query {long_name} {case}"},
            "operation name: must be at most 128 characters",
        ),
        "variables": (
            {"query": case, "variables": {"pad": "v" * MAX_VARIABLES_BYTES}},
            "variables: must be at most",
        ),
    }
    # The default body limit (1 MiB): the GraphQL bounds are the tighter ones.
    async with serving(create_gateway(gateway_settings(stack, 1_048_576))) as client:
        client.headers.update(bearer("supervisor", [clinic]))
        for name, (body, message) in requests.items():
            r = await client.post("/graphql", json=body)
            assert r.status_code == 200, (name, r.text)
            [error] = r.json()["errors"]
            assert message in error["message"], (name, error)
            assert "QQQQ" not in r.text
        fine = await client.post("/graphql", json={"query": f"query {'Q' * 128} {case}"})
        assert "errors" not in fine.json(), fine.text


async def test_an_audit_record_is_bounded_however_large_the_read(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    """Below the door, the audit writer still cuts the operation name and fills as many
    records as a large read needs, each far below the broker's limit."""
    clinic = ids("clinic")
    settings = gateway_settings(stack)
    caller = await TokenVerifier(settings.tokens()).person(
        bearer("supervisor", [clinic])["Authorization"]
    )
    cases = {(clinic, f"case-{i:04d}") for i in range(2 * MAX_AUDITED_IDS + 1)}
    dyads = {uuid.uuid4() for _ in range(MAX_AUDITED_IDS + 3)}
    app = create_gateway(settings)
    async with serving(app):
        pool, _ = app.state.runtime.require()
        now = datetime.now(UTC)
        await writes.record_reads(pool, caller, cases, dyads, "R" * 1_100_000, "::1", now)

        async def published() -> list[Record]:
            records = await read_topic(stack.kafka_bootstrap_servers, AUDIT.name)
            return [r for r in records if r.key == clinic.encode()]

        records = await eventually(lambda: _at_least(published, 3), within=30)
    rows = await pg.fetch(
        "SELECT operation, cardinality(case_ids) AS cases, cardinality(dyad_ids) AS dyads "
        "FROM gateway.read_audit WHERE clinic_id = $1 ORDER BY id",
        clinic,
    )
    assert [(r["cases"], r["dyads"]) for r in rows] == [(500, 500), (500, 3), (1, 0)]
    assert {r["operation"] for r in rows} == {"R" * MAX_OPERATION_NAME}
    assert len(records) == 3
    assert all(len(r.value) < DEFAULT_MESSAGE_MAX_BYTES // 8 for r in records)


async def _at_least(probe: Callable[[], Awaitable[list[Record]]], n: int) -> list[Record] | None:
    found = await probe()
    return found if len(found) >= n else None
