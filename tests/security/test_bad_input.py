"""Bad input never reaches a 500: each is refused with a 4xx naming the field and the rule, and
a dependency that is down answers 503 with Retry-After and a JSON body."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from graphql import get_introspection_query

from alliance_gateway.entrypoints.app import create_app as create_gateway
from alliance_gateway.settings import GatewaySettings
from alliance_intake.entrypoints.http import create_app as create_intake
from alliance_intake.settings import IntakeSettings
from alliance_platform.dbroles import with_login
from tests.helpers import AUTH_ENV, bearer, clinic_system, response_body, serving
from tests.stack import Endpoints

YEAR_ONE = "0001-01-01T00:00:00+14:00"


def intake_settings(stack: Endpoints, **overrides: str) -> IntakeSettings:
    return IntakeSettings.model_validate({**stack.service_env("intake"), **AUTH_ENV, **overrides})


def bodies(clinic: str) -> dict[str, tuple[str, str, Any, list[str]]]:
    """name: (method, path, body (a dict, or raw JSON text), the field the error must name)."""
    ok = response_body(clinic, "case-bad-1", 1, 9, key="bad-input-0001")
    config = f"/v1/clinics/{clinic}/configuration"
    return {
        "NUL in an idempotency key": (
            "POST", "/v1/responses", {**ok, "idempotency_key": "abc\x00defgh"},
            ["body", "idempotency_key"],
        ),
        "NUL in a source": (
            "PATCH", config,
            {"overrides": {"split_gap": {"value": 0.25, "source": "a\x00b"}},
             "idempotency_key": "bad-input-0002"},
            ["body", "overrides", "split_gap", "source"],
        ),
        "year 1 at +14:00 (administered_at)": (
            "POST", "/v1/responses", {**ok, "administered_at": YEAR_ONE},
            ["body", "administered_at"],
        ),
        "year 1 at +14:00 (effective_from)": (
            "PATCH", config,
            {"overrides": {}, "effective_from": YEAR_ONE, "idempotency_key": "bad-input-0003"},
            ["body", "effective_from"],
        ),
        "1e309 as an answer": (
            "POST", "/v1/responses", json.dumps(ok).replace('"1": 9', '"1": 1e309', 1),
            ["body", "answers", "1"],
        ),
        "1e309 as a threshold": (
            "PATCH", config,
            '{"overrides": {"split_gap": {"value": 1e309}}, "idempotency_key": "bad-input-4"}',
            ["body", "overrides", "split_gap", "value"],
        ),
    }  # fmt: skip


async def test_intake_refuses_bad_input_naming_the_field(
    stack: Endpoints, ids: Callable[[str], str]
) -> None:
    clinic = ids("clinic")
    async with serving(create_intake(intake_settings(stack))) as client:
        client.headers.update(clinic_system([clinic]))
        for name, (method, path, body, field) in bodies(clinic).items():
            if isinstance(body, str):
                r = await client.request(
                    method, path, content=body, headers={"content-type": "application/json"}
                )
            else:
                r = await client.request(method, path, json=body)
            assert r.status_code == 422, (name, r.status_code, r.text)
            assert r.json()["detail"][0]["loc"][: len(field)] == field, (name, r.text)
        huge = b'{"pad": "' + b"x" * (30 * 1024 * 1024) + b'"}'
        r = await client.post(
            "/v1/responses", content=huge, headers={"content-type": "application/json"}
        )
        assert r.status_code == 413


@contextlib.asynccontextmanager
async def tcp_proxy(host: str, port: int) -> AsyncIterator[tuple[int, Callable[[], None]]]:
    """A loopback proxy to PostgreSQL that can be cut (PostgreSQL "goes down")."""
    links: list[asyncio.StreamWriter] = []
    up = True

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not up:
            writer.close()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        links.extend([writer, upstream_writer])
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    def cut() -> None:
        nonlocal up
        up = False
        for link in links:
            link.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], cut
    finally:
        cut()
        server.close()


async def test_intake_answers_503_while_postgres_is_down(
    stack: Endpoints, ids: Callable[[str], str]
) -> None:
    clinic = ids("clinic")
    url = stack.service_env("intake")["DATABASE_URL"]
    parts = urlsplit(url)
    async with tcp_proxy(parts.hostname or "127.0.0.1", parts.port or 5432) as (port, cut):
        proxied = with_login(url.replace(f":{parts.port}/", f":{port}/"), None, parts.password)
        app = create_intake(intake_settings(stack, DATABASE_URL=proxied))
        async with serving(app) as client:
            client.headers.update(clinic_system([clinic]))
            body = response_body(clinic, "case-pg-down", 1, 9)
            assert (await client.post("/v1/responses", json=body)).status_code == 202
            cut()
            answers = [
                await client.post(
                    "/v1/responses", json={**body, "idempotency_key": f"pg-down-{i:04d}"}
                )
                for i in range(5)
            ]
    for r in answers:
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"]
        assert r.json()["detail"][0]["type"] == "unavailable"


@pytest.fixture
def gateway_settings(stack: Endpoints) -> GatewaySettings:
    return GatewaySettings.model_validate(
        {**stack.service_env("gateway"), **AUTH_ENV, "ALLIANCE_MAX_QUERY_COST": "500"}
    )


async def test_gateway_names_the_field_and_limits_every_query(
    gateway_settings: GatewaySettings, ids: Callable[[str], str]
) -> None:
    clinic = ids("clinic")
    note = "x" * 2001
    alert = "00000000-0000-0000-0000-000000000000"
    resolve = f"""mutation {{ resolveAlert(input: {{alertId: "{alert}",
        clientMutationId: "long-note-0001", note: "{note}"}}) {{ commandId }} }}"""
    # Alone, `b` is over the limit; a negative page elsewhere must not pay for it.
    page = "{ edges { node { history { at } } } }"
    costly = f"""{{ a: alerts(clinicId: "{clinic}", first: -2000000) {page}
        b: alerts(clinicId: "{clinic}", first: 200) {page} }}"""
    deep_introspection = (
        "{ __schema { types { fields { type { " + "ofType { " * 12 + "name" + " }" * 17
    )
    async with serving(create_gateway(gateway_settings)) as client:
        client.headers.update(bearer("supervisor", [clinic]))

        async def run(query: str) -> dict[str, Any]:
            r = await client.post("/graphql", json={"query": query})
            assert r.status_code == 200, r.text
            return r.json()  # type: ignore[no-any-return]

        long_note = await run(resolve)
        paired = await run(costly)
        deep = await run(deep_introspection)
        standard = await run(get_introspection_query(descriptions=True))
    assert long_note["errors"][0]["message"] == "note: String should have at most 2000 characters"
    assert "exceeds the limit of 500" in paired["errors"][0]["message"]
    assert "query depth" in deep["errors"][0]["message"]
    assert "errors" not in standard  # GraphiQL still introspects
