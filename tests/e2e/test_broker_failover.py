"""Kafka as three brokers (replication 3, two in sync), one of them killed with SIGKILL in the
middle of a steady stream of responses and restarted later: every accepted response is scored
exactly once, in order per case, and no consumer stays stuck (every projection catches up and
every outbox empties).

The cluster is a stack of its own (`python -m alliance_devstack start --brokers 3 --services`,
in a temporary directory): the four services as `./dev up` runs them, its own PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from alliance_contracts.access import Scope
from alliance_contracts.topics import SCORED
from alliance_devstack.client import LaunchedStack, launched_stack
from alliance_platform.devtoken import DevIssuer
from tests.conftest import eventually
from tests.helpers import read_topic, response_body

CASES, SESSIONS = 20, 10  # 200 responses, about 10 s of stream
PACE_S = 0.05


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedStack]:
    directory = tmp_path_factory.mktemp("three-brokers")
    with launched_stack(
        directory, brokers=3, services=True, start_timeout=600, output=sys.stderr
    ) as launched:
        yield launched


def _restart_dead_nodes(cluster: LaunchedStack) -> None:
    """`python -m alliance_devstack start` on the stack: starts the nodes that are not running."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    done = subprocess.run(
        [sys.executable, "-m", "alliance_devstack", "start"],
        env={**env, "ALLIANCE_STACK_DIR": str(cluster.directory)},
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)


def _engines(cluster: LaunchedStack) -> dict[str, str]:
    return {k: cluster.env[k] for k in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}


def _state(cluster: LaunchedStack) -> dict[str, Any]:
    return dict(json.loads((Path(cluster.directory) / "state.json").read_text()))


async def _scored(pg: asyncpg.Connection, clinic: str) -> int:
    return int(
        await pg.fetchval("SELECT count(*) FROM scoring.dyad_score WHERE clinic_id = $1", clinic)
    )


def _caught_up(cluster: LaunchedStack) -> bool:
    """`alliance status`: no lag in any generation's groups, every outbox empty."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    out = subprocess.run(
        [sys.executable, "-m", "alliance_cli", "status", "--json"],
        env={**env, **_engines(cluster), "ALLIANCE_DB_ADMIN_URL": cluster.env["DATABASE_URL"]},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    status: dict[str, Any] = json.loads(out)
    lag = sum(g["lag"] for p in status["projections"] for g in p["generations"])
    return bool(lag == 0 and sum(o["backlog"] for o in status["outboxes"]) == 0)


async def test_a_broker_killed_under_load_loses_and_doubles_nothing(
    cluster: LaunchedStack, ids: Callable[[str], str]
) -> None:
    state = _state(cluster)
    assert len(state["kafka"]["nodes"]) == 3
    victim = state["kafka"]["nodes"][0]  # the first bootstrap server, and a partition leader
    issuer = DevIssuer.from_key_file(
        cluster.env["ALLIANCE_DEV_SIGNING_KEY_FILE"],
        cluster.env["ALLIANCE_JWT_ISSUER"],
        cluster.env["ALLIANCE_JWT_AUDIENCE"],
    )
    clinic = ids("failover-clinic")
    token = issuer.clinic_system("failover-test", [Scope.RESPONSES_WRITE], [clinic], hours=1)
    intake = f"http://127.0.0.1:{state['services']['intake']['port']}"
    bodies = [
        response_body(clinic, f"{clinic}-case{c}", s, 5.0 + s / 2)
        for s in range(1, SESSIONS + 1)
        for c in range(CASES)
    ]
    accepted: list[str] = []

    async def post_all(client: httpx.AsyncClient) -> None:
        for body in bodies:
            r = await client.post(f"{intake}/v1/responses", json=body)
            assert r.status_code == 202, r.text  # intake keeps taking responses meanwhile
            accepted.append(body["idempotency_key"])
            await asyncio.sleep(PACE_S)

    pg = await asyncpg.connect(cluster.env["DATABASE_URL"])
    try:
        headers = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(timeout=30, headers=headers) as client:
            stream = asyncio.create_task(post_all(client))
            await eventually(lambda: _at_least(pg, clinic, 30), within=120)
            os.kill(victim["pid"], signal.SIGKILL)
            killed_at = len(accepted)
            await asyncio.sleep(5)  # two brokers of three: writes still have two in sync
            during = len(accepted) - killed_at
            await asyncio.to_thread(_restart_dead_nodes, cluster)
            await stream
        await eventually(lambda: _at_least(pg, clinic, len(bodies)), within=240)
        await eventually(lambda: asyncio.to_thread(_caught_up, cluster), within=240)
        await asyncio.sleep(2)  # let any duplicate redelivery land before counting

        scored_rows = await _scored(pg, clinic)
        print(
            f"broker failover: accepted {len(accepted)} ({during} while a broker was down), "
            f"scored {scored_rows}, lost {len(bodies) - scored_rows}"
        )
        assert killed_at < len(bodies), "the kill came after the stream: the test proved nothing"
        assert during > 0, "nothing was accepted while the broker was down"
        assert len(accepted) == len(bodies)
        assert scored_rows == len(bodies)  # none lost, none scored twice
        responses = await pg.fetchval(
            "SELECT sum(responses) FROM scoring.dyad WHERE clinic_id = $1", clinic
        )
        assert responses == len(bodies)
        latest = await pg.fetch(
            "SELECT (latest->'SRS'->>'session_number')::int AS s FROM scoring.dyad "
            "WHERE clinic_id = $1",
            clinic,
        )
        assert {r["s"] for r in latest} == {SESSIONS}  # each case's last session applied last
    finally:
        await pg.close()
    records = [
        r
        for r in await read_topic(cluster.env["KAFKA_BOOTSTRAP_SERVERS"], SCORED.name)
        if r.key and r.key.decode().startswith(clinic)
    ]
    scored: dict[str, dict[str, Any]] = {}  # by event id, in topic order (a repeat: same id)
    for record in records:
        event = json.loads(record.value)
        if event["event_type"] == "response.scored":
            scored.setdefault(event["event_id"], event)
    assert len(scored) == len(bodies)  # one scored event per response
    for case in range(CASES):  # per case, the sessions in order on the topic
        sessions = [
            e["payload"]["session_number"]
            for e in scored.values()
            if e["case_id"] == f"{clinic}-case{case}"
        ]
        assert sessions == list(range(1, SESSIONS + 1)), (case, sessions)


async def _at_least(pg: asyncpg.Connection, clinic: str, n: int) -> bool:
    return await _scored(pg, clinic) >= n
