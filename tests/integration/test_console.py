"""The clinician console as the gateway serves it: the pages and config with their CSP and cache
headers, a clear 503 without a build (no Node needed), and every console operation accepted by
its hash from a gateway that accepts only trusted documents, the subscription over WebSocket
too (in text frames, which a browser's client reads). The build here is a stand-in directory
shaped like `npm run build`'s output; the real build is exercised by the browser tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import websockets
from websockets.typing import Subprotocol

from alliance_alerts.adapters.store import save_alerts
from alliance_alerts.domain.rules import Cause
from alliance_contracts.access import Role
from alliance_gateway.entrypoints.app import create_app
from alliance_gateway.entrypoints.console import HASHED_ASSET
from alliance_gateway.graphql.trusted import MISMATCH, ONLY_TRUSTED, UNKNOWN, sha256
from alliance_gateway.settings import GatewaySettings
from tests.helpers import (
    AUTH_ENV,
    ISSUER,
    bearer,
    create_projection_tables,
    on_a_socket,
    on_live_slots,
    serving,
)
from tests.integration.test_gateway import T0
from tests.integration.test_gateway_reads import rupture_alert, seed
from tests.stack import Endpoints

OPERATIONS = Path(__file__).parents[2] / "services" / "gateway" / "console" / "src" / "operations"
ISSUER_URL = "https://login.clinic.example/realms/alliance"


def gateway(stack: Endpoints, console_dir: Path, **more: str) -> GatewaySettings:
    env = {**stack.service_env("gateway"), **AUTH_ENV, "ALLIANCE_CONSOLE_DIR": str(console_dir)}
    return GatewaySettings.model_validate({**env, **more})


def fake_build(root: Path) -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>console</title>")
    (root / "graphiql.html").write_text("<!doctype html><title>graphiql</title>")
    (root / "assets" / "console-abc123.js").write_text("export {};")
    (root.parent / "secret.txt").write_text("outside the build")
    return root


async def test_the_console_is_served_with_its_csp_and_cache_headers(
    stack: Endpoints, tmp_path: Path
) -> None:
    settings = gateway(
        stack,
        fake_build(tmp_path / "dist"),
        ALLIANCE_CONSOLE_OIDC_ISSUER=ISSUER_URL,
        ALLIANCE_CONSOLE_OIDC_CLIENT_ID="alliance-console",
    )
    async with serving(create_app(settings)) as client:
        index = await client.get("/console/")
        route = await client.get("/console/clinics/clinic-north/cases/case-0001")
        asset = await client.get("/console/assets/console-abc123.js")
        config = await client.get("/console/config.json")
        graphiql = await client.get("/graphql", headers={"accept": "text/html"})
        missing = await client.get("/console/assets/nothing.js")
        escape = await client.get("/console/assets/..%2F..%2Fsecret.txt")
    csp = index.headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self';", "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp
    # The token exchange goes to the issuer: its origin, and no other, is added for fetches.
    assert "connect-src 'self' https://login.clinic.example;" in csp
    for page in (index, route, graphiql):
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["content-security-policy"] == csp
        assert page.headers["referrer-policy"] == "no-referrer"
    assert "<title>console</title>" in route.text  # client routes get the console's page
    assert "<title>graphiql</title>" in graphiql.text  # self-hosted, not strawberry's CDN page
    assert (asset.status_code, asset.headers["cache-control"]) == (200, HASHED_ASSET)
    assert asset.headers["content-security-policy"] == csp
    assert config.headers["cache-control"] == "no-store"
    assert config.json() == {
        "graphql": "/graphql",
        "oidc": {"issuer": ISSUER_URL, "clientId": "alliance-console", "scope": "openid"},
    }
    assert (missing.status_code, escape.status_code) == (404, 404)


async def test_without_a_build_the_pages_say_how_to_build_and_sign_in_is_not_configured(
    stack: Endpoints, tmp_path: Path
) -> None:
    async with serving(create_app(gateway(stack, tmp_path / "nothing"))) as client:
        console = await client.get("/console/")
        graphiql = await client.get("/graphql", headers={"accept": "text/html"})
        config = await client.get("/console/config.json")
        api = await client.post("/graphql", json={"query": "{ __typename }"})
    for page in (console, graphiql):
        assert page.status_code == 503
        assert (
            "npm ci &amp;&amp; npm run build" in page.text or "npm ci && npm run build" in page.text
        )
        assert "cdn" not in page.text.lower()
        assert page.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    # No issuer configured: the console shows "sign-in not configured" (fails closed), and
    # the CSP adds no origin.
    assert config.json() == {"graphql": "/graphql", "oidc": None}
    assert "connect-src 'self';" in config.headers["content-security-policy"]
    assert api.status_code == 401  # the API is unchanged: a token is still needed


VARIABLES: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "Caseload": lambda clinic, case: {"clinicId": clinic, "openAlertKind": None},
    "CaseDetail": lambda clinic, case: {"clinicId": clinic, "caseId": case},
    "Inbox": lambda clinic, case: {"clinicId": clinic, "status": "OPEN", "after": None},
    "ClinicSummary": lambda clinic, case: {"clinicId": clinic},
    "NetworkSummary": lambda clinic, case: {},
}
ALERT_INPUT = {"alertId": "00000000-0000-4000-8000-000000000000", "clientMutationId": "console-t1"}
MUTATIONS: dict[str, dict[str, Any]] = {
    "AcknowledgeAlert": ALERT_INPUT,
    "ResolveAlert": {**ALERT_INPUT, "note": "talked it through"},
    "SnoozeAlert": {**ALERT_INPUT, "until": "2030-01-01T00:00:00Z"},
    "ReassignAlert": {**ALERT_INPUT, "assigneeId": "th-2"},
}


def persisted(name: str, variables: dict[str, Any]) -> dict[str, Any]:
    key = sha256((OPERATIONS / f"{name}.graphql").read_text())
    return {
        "operationName": name,
        "variables": variables,
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": key}},
    }


async def test_every_console_operation_runs_by_hash_on_a_trusted_only_gateway(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str], tmp_path: Path
) -> None:
    await create_projection_tables(stack, "scoring")
    await create_projection_tables(stack, "alerts")
    clinic, case = ids("clinic"), ids("case")
    await seed(pg, clinic, case)
    names = sorted(p.stem for p in OPERATIONS.glob("*.graphql"))
    assert names == sorted([*VARIABLES, *MUTATIONS, "AlertNotices"])
    settings = gateway(stack, tmp_path, ALLIANCE_GATEWAY_TRUSTED_DOCUMENTS_ONLY="true")
    refusals = {UNKNOWN, MISMATCH, ONLY_TRUSTED}
    async with serving(create_app(settings)) as client:
        client.headers.update(bearer("supervisor", [clinic], "sv-console"))
        answers = {
            name: (await client.post("/graphql", json=persisted(name, make(clinic, case)))).json()
            for name, make in VARIABLES.items()
        }
        commands = {
            name: (await client.post("/graphql", json=persisted(name, {"input": value}))).json()
            for name, value in MUTATIONS.items()
        }
    assert all("errors" not in answer for answer in answers.values()), answers
    assert answers["CaseDetail"]["data"]["case"]["caseId"] == case
    assert len(answers["CaseDetail"]["data"]["case"]["dyads"]) == 3
    assert [
        e["node"]["caseId"] for e in answers["Caseload"]["data"]["clinic"]["cases"]["edges"]
    ] == [case]
    # The commands name an alert that does not exist: refused as such, not as unregistered.
    for answer in commands.values():
        assert answer["data"] is None
        assert {e["message"] for e in answer["errors"]}.isdisjoint(refusals), answer

    async with on_a_socket(create_app(settings)) as url:
        token = ISSUER.person("sv-console", Role.SUPERVISOR, [clinic])
        async with websockets.connect(
            url.replace("http", "ws") + "/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
        ) as ws:
            init = {"authorization": f"Bearer {token}"}
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
            ack = await asyncio.wait_for(ws.recv(), 10)
            # Text frames: a browser's graphql-ws client cannot read binary ones.
            assert isinstance(ack, str)
            assert json.loads(ack)["type"] == "connection_ack"
            by_hash = {"query": "", **persisted("AlertNotices", {"clinicId": clinic})}
            as_text = {"query": "subscription { alertNotices { alertId } }"}
            for n, payload in (("1", as_text), ("2", by_hash)):
                await ws.send(json.dumps({"id": n, "type": "subscribe", "payload": payload}))
            await asyncio.sleep(0.5)  # both operations have started (or been refused)
            await ws.send(json.dumps({"type": "ping"}))
            received = []
            while (message := json.loads(await asyncio.wait_for(ws.recv(), 10)))["type"] != "pong":
                received.append(message)
    # The document sent as text is refused at once; the one sent by hash runs and waits for
    # notices: nothing of it arrives.
    assert {m["id"] for m in received} == {"1"}
    assert ONLY_TRUSTED in json.dumps(received[0]["payload"])


async def test_the_inbox_and_the_caseload_page_by_hash_as_the_console_sends_them(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str], tmp_path: Path
) -> None:
    """The inbox's "More": `Inbox` of one status gives 50 alerts and a cursor, the same operation
    after it the rest; the caseload's alert-kind filter: `Caseload` with `openAlertKind`, each
    case with its own active alerts."""
    await create_projection_tables(stack, "scoring")
    await create_projection_tables(stack, "alerts")
    clinic, base = ids("clinic"), ids("case")
    cases = [f"{base}-{i}" for i in range(53)]
    for case in cases[:2]:
        await seed(pg, clinic, case)
    raised = [
        rupture_alert(clinic, case, T0 + timedelta(minutes=n)).raised(Cause(at=T0, key="raise"))
        for n, case in enumerate(cases)
    ]
    async with on_live_slots(pg, "alerts") as conn:
        await save_alerts(conn, raised)
    newest_first = [str(a.alert_id) for a in reversed(raised)]
    settings = gateway(stack, tmp_path, ALLIANCE_GATEWAY_TRUSTED_DOCUMENTS_ONLY="true")

    async def run(client: Any, name: str, **variables: Any) -> dict[str, Any]:
        answer = (await client.post("/graphql", json=persisted(name, variables))).json()
        assert "errors" not in answer, answer
        data: dict[str, Any] = answer["data"]
        return data

    async with serving(create_app(settings)) as client:
        client.headers.update(bearer("supervisor", [clinic], "sv-console"))
        first = (await run(client, "Inbox", clinicId=clinic, status="OPEN"))["alerts"]
        after = first["pageInfo"]["endCursor"]
        more = (await run(client, "Inbox", clinicId=clinic, status="OPEN", after=after))["alerts"]
        none = (await run(client, "Inbox", clinicId=clinic, status="ACKNOWLEDGED"))["alerts"]
        filtered = await run(client, "Caseload", clinicId=clinic, openAlertKind="RUPTURE")
        other_kind = await run(client, "Caseload", clinicId=clinic, openAlertKind="OFF_TRACK")
    assert [e["node"]["alertId"] for e in first["edges"]] == newest_first[:50]
    assert first["pageInfo"]["hasNextPage"]
    assert [e["node"]["alertId"] for e in more["edges"]] == newest_first[50:]
    assert not more["pageInfo"]["hasNextPage"]
    assert none == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
    assert [e["node"]["caseId"] for e in filtered["clinic"]["cases"]["edges"]] == cases[:2]
    # Each case's badges: its own alert (of the 53 in the clinic), whatever the clinic's size.
    assert [
        [(a["alertId"], a["kind"], a["status"]) for a in e["node"]["activeAlerts"]]
        for e in filtered["clinic"]["cases"]["edges"]
    ] == [[(str(a.alert_id), "RUPTURE", "OPEN")] for a in raised[:2]]
    assert other_kind["clinic"]["cases"]["edges"] == []
