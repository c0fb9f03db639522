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
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from alliance_contracts.access import Scope
from alliance_contracts.topics import SCORED
from alliance_devstack.client import LaunchedStack, launched_stack
from tests.conftest import eventually
from tests.e2e.own_stacks import (
    caught_up,
    dyads_of_clinic,
    first_scored,
    issuer,
    launcher,
    scored_at_least,
    scored_in_clinic,
    sessions_of,
)
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


async def test_a_broker_killed_under_load_loses_and_doubles_nothing(
    cluster: LaunchedStack, ids: Callable[[str], str]
) -> None:
    state = json.loads((Path(cluster.directory) / "state.json").read_text())
    assert len(state["kafka"]["nodes"]) == 3
    victim = state["kafka"]["nodes"][0]  # the first bootstrap server, and a partition leader
    clinic = ids("failover-clinic")
    token = issuer(cluster).clinic_system("failover", [Scope.RESPONSES_WRITE], [clinic], hours=1)
    intake = f"http://127.0.0.1:{state['services']['intake']['port']}"
    cases = [f"{clinic}-case{c}" for c in range(CASES)]
    bodies = [
        response_body(clinic, case, s, 5.0 + s / 2)
        for s in range(1, SESSIONS + 1)
        for case in cases
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
            await eventually(lambda: scored_at_least(pg, clinic, 30), within=120)
            os.kill(victim["pid"], signal.SIGKILL)
            killed_at = len(accepted)
            await asyncio.sleep(5)  # two brokers of three: writes still have two in sync
            during = len(accepted) - killed_at
            await asyncio.to_thread(launcher, cluster, "start")  # starts the killed node again
            await stream
        await eventually(lambda: scored_at_least(pg, clinic, len(bodies)), within=240)
        await eventually(lambda: asyncio.to_thread(caught_up, cluster), within=240)
        await asyncio.sleep(2)  # let any duplicate redelivery land before counting
        scored = await scored_in_clinic(pg, clinic)
        responses, last_sessions = await dyads_of_clinic(pg, clinic)
    finally:
        await pg.close()
    print(
        f"broker failover: accepted {len(accepted)} ({during} while a broker was down), "
        f"scored {scored}, lost {len(bodies) - scored}"
    )
    assert killed_at < len(bodies), "the kill came after the stream: the test proved nothing"
    assert during > 0, "nothing was accepted while the broker was down"
    assert len(accepted) == len(bodies)
    assert scored == len(bodies)  # none lost, none scored twice
    assert responses == len(bodies)
    assert last_sessions == {SESSIONS}  # each case's last session applied last
    records = await read_topic(cluster.env["KAFKA_BOOTSTRAP_SERVERS"], SCORED.name)
    events = first_scored([r.value for r in records if r.key and r.key.decode() in cases])
    assert len(events) == len(bodies)  # one scored event per response
    for case in cases:  # per case, the sessions in order on the topic
        assert sessions_of(events, case) == list(range(1, SESSIONS + 1)), case
