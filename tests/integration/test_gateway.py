"""Gateway against real PostgreSQL read models: scoping by clinic and keyset pagination."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from alliance_alerts.adapters.tables import SCHEMA as ALERTS
from alliance_alerts.adapters.tables import TABLES as ALERT_TABLES
from alliance_gateway.entrypoints.app import create_app
from alliance_gateway.settings import GatewaySettings
from alliance_scoring.adapters.tables import SCHEMA as SCORING
from alliance_scoring.adapters.tables import TABLES as SCORING_TABLES
from alliance_shared.db import create_schema

from tests.helpers import serving
from tests.stack import Endpoints

T0 = datetime(2026, 10, 1, tzinfo=UTC)

CASE_QUERY = """query($clinic: ID!, $case: ID!) { case(clinicId: $clinic, caseId: $case) {
  caseId dyads { therapistId respondentRole responses latest { instrument total }
  timeline { sessionNumber total normalized subscales { name score } } } } }"""
ALERTS_QUERY = """query($clinic: ID!, $after: String) {
  alerts(clinicId: $clinic, first: 2, after: $after) {
  edges { cursor node { alertId kind status sessionNumber evidence { rule threshold inputs } } }
  pageInfo { hasNextPage endCursor } } }"""


async def gql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def seed_dyad(pg: asyncpg.Pool, clinic: str, case: str) -> uuid.UUID:
    dyad_id = uuid.uuid4()
    latest = {
        "SRS": {
            "session_number": 2,
            "administered_at": T0.isoformat(),
            "total": 33.0,
            "normalized": 0.825,
            "subscales": {},
            "source_event_id": str(uuid.uuid4()),
        }
    }
    await pg.execute(
        f"INSERT INTO {SCORING}.dyad "
        "VALUES ($1, $2, $3, 'th-9', 'client', NULL, 2, $4::jsonb, now())",
        dyad_id,
        clinic,
        case,
        json.dumps(latest),
    )
    for session, total in ((1, 38.0), (2, 33.0)):
        await pg.execute(
            f"INSERT INTO {SCORING}.dyad_score VALUES ($1, $2, $3, 'SRS', 'client', $4, $5, $6, "
            "'{}'::jsonb, $7, 'SRS/3.0')",
            uuid.uuid4(),
            dyad_id,
            clinic,
            session,
            T0 + timedelta(weeks=session),
            total,
            total / 40,
        )
    return dyad_id


async def seed_alert(pg: asyncpg.Pool, clinic: str, dyad_id: uuid.UUID, at: datetime) -> uuid.UUID:
    alert_id = uuid.uuid4()
    evidence = {
        "rule": "srs_total_below_cutoff",
        "inputs": {"total": 30},
        "threshold": 36,
        "citation": "test",
    }
    await pg.execute(
        f"INSERT INTO {ALERTS}.alert "
        "VALUES ($1, $2, 'case-x', $3, 'th-9', 'client', $4, 'resolved', "
        "'SRS', 1, $5, $6::jsonb, $7)",
        alert_id,
        clinic,
        dyad_id,
        f"kind-{alert_id.hex[:6]}",
        uuid.uuid4(),
        json.dumps(evidence),
        at,
    )
    return alert_id


async def test_case_is_read_with_its_dyads_and_only_in_its_clinic(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    await create_schema(stack.database_url, SCORING, SCORING_TABLES)
    clinic, case = ids("clinic"), ids("case")
    await seed_dyad(pg, clinic, case)
    async with serving(create_app(GatewaySettings.model_validate(stack.env()))) as client:
        data = await gql(client, CASE_QUERY, clinic=clinic, case=case)
        other = await gql(client, CASE_QUERY, clinic=ids("other-clinic"), case=case)
    dyad = data["case"]["dyads"][0]
    assert dyad["respondentRole"] == "CLIENT"
    assert dyad["latest"] == [{"instrument": "SRS", "total": 33.0}]
    assert [p["total"] for p in dyad["timeline"]] == [38.0, 33.0]
    assert other["case"] is None


async def test_alert_pages_are_stable_under_inserts(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    await create_schema(stack.database_url, ALERTS, ALERT_TABLES)
    clinic = ids("clinic")
    dyad = uuid.uuid4()
    seeded = [await seed_alert(pg, clinic, dyad, T0 + timedelta(hours=h)) for h in range(5)]
    newest_first = [str(a) for a in reversed(seeded)]
    async with serving(create_app(GatewaySettings.model_validate(stack.env()))) as client:
        page1 = (await gql(client, ALERTS_QUERY, clinic=clinic))["alerts"]
        # A new alert arrives between page loads: it must not shift the following pages.
        await seed_alert(pg, clinic, dyad, T0 + timedelta(days=1))
        page2 = (
            await gql(client, ALERTS_QUERY, clinic=clinic, after=page1["pageInfo"]["endCursor"])
        )["alerts"]
        page3 = (
            await gql(client, ALERTS_QUERY, clinic=clinic, after=page2["pageInfo"]["endCursor"])
        )["alerts"]
        bad = (
            await client.post(
                "/graphql",
                json={"query": ALERTS_QUERY, "variables": {"clinic": clinic, "after": "bogus"}},
            )
        ).json()
    seen = [e["node"]["alertId"] for p in (page1, page2, page3) for e in p["edges"]]
    assert seen == newest_first
    assert page1["pageInfo"]["hasNextPage"]
    assert page2["pageInfo"]["hasNextPage"]
    assert not page3["pageInfo"]["hasNextPage"]
    assert "after" in bad["errors"][0]["message"]
