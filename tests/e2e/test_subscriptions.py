"""A live subscription receives the alert that a real pipeline event raises: HTTP into intake,
Kafka, scoring, alerts, the notices topic, the gateway, a WebSocket out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from alliance_contracts.access import Role
from alliance_devstack.processes import ServiceProcess
from tests.helpers import ISSUER, bearer, clinic_system, response_body

SUBSCRIPTION = """subscription($clinic: ID) { alertNotices(clinicId: $clinic) {
  kind action caseId priority escalated recipients } }"""


async def connect(url: str, token: str | None) -> Any:
    ws = await websockets.connect(
        url.replace("http", "ws") + "/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
    )
    payload = {"authorization": token} if token else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    return ws


async def test_an_alert_raised_by_a_response_reaches_a_subscriber(
    services: dict[str, ServiceProcess], ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    token = bearer("supervisor", [clinic])["Authorization"]
    ws = await connect(services["gateway"].url, token)
    try:
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIPTION, "variables": {"clinic": clinic}},
                }
            )
        )
        await asyncio.sleep(0.5)
        oq = response_body(clinic, case, 1, 0, instrument="OQ-45.2")
        oq["answers"]["32"] = 3  # a critical item
        async with httpx.AsyncClient(headers=clinic_system([clinic])) as client:
            r = await client.post(f"{services['intake'].url}/v1/responses", json=oq)
            assert r.status_code == 202, r.text
        received: list[dict[str, Any]] = []
        async with asyncio.timeout(60):
            while len(received) < 2:
                message = json.loads(await ws.recv())
                assert message["type"] == "next", message
                received.append(message["payload"]["data"]["alertNotices"])
    finally:
        await ws.close()
    assert [n["action"] for n in received] == ["raised", "escalated"]
    assert {(n["kind"], n["caseId"], n["priority"]) for n in received} == {
        ("CRITICAL_ITEM", case, "SAME_DAY")
    }


async def test_a_subscription_without_a_valid_token_is_refused(
    services: dict[str, ServiceProcess],
) -> None:
    ws = await connect(services["gateway"].url, "Bearer not-a-token")
    try:
        async with asyncio.timeout(10):
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403
    finally:
        await ws.close()


async def test_a_subscription_is_closed_when_its_token_expires(
    services: dict[str, ServiceProcess], ids: Callable[[str], str]
) -> None:
    clinic = ids("clinic")
    token = ISSUER.person("sup-short", Role.SUPERVISOR, [clinic], hours=3 / 3600)  # 3 seconds
    ws = await connect(services["gateway"].url, f"Bearer {token}")
    try:
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        subscribe = {"query": SUBSCRIPTION, "variables": {"clinic": clinic}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(drain(ws), 20)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401
    finally:
        await ws.close()


async def drain(ws: Any) -> None:
    while True:
        await ws.recv()
