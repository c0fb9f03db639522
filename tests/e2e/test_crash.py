"""kill -9 scoring in the middle of a stream of events, restart it: nothing lost or doubled,
and `alliance verify` finds it equal to a copy built from the log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import asyncpg
import httpx

from alliance_contracts.topics import SCORED
from alliance_devstack.processes import ServiceProcess
from tests.conftest import eventually
from tests.e2e.own_stacks import dyads_of_clinic, scored_at_least, scored_in_clinic
from tests.helpers import alliance, clinic_system, read_topic, response_body
from tests.stack import Endpoints

CASES, SESSIONS = 30, 10  # 300 responses


async def test_scoring_killed_mid_stream_loses_and_doubles_nothing(
    stack: Endpoints,
    services: dict[str, ServiceProcess],
    pg: asyncpg.Pool,
    ids: Callable[[str], str],
) -> None:
    clinic = ids("crash-clinic")
    bodies = [
        response_body(clinic, f"{clinic}-case{c}", s, 9.0)
        for s in range(1, SESSIONS + 1)
        for c in range(CASES)
    ]
    scoring = services["scoring"]

    async def post_all(client: httpx.AsyncClient) -> None:
        for body in bodies:
            r = await client.post(f"{services['intake'].url}/v1/responses", json=body)
            assert r.status_code == 202, r.text
            await asyncio.sleep(0.005)  # a stream, not a burst

    async with httpx.AsyncClient(timeout=10, headers=clinic_system([clinic])) as client:
        stream = asyncio.create_task(post_all(client))
        await eventually(lambda: scored_at_least(pg, clinic, 60), within=60)
        scoring.kill9()  # mid-stream, usually mid-batch
        killed_at = await scored_in_clinic(pg, clinic)
        await asyncio.sleep(1)
        scoring.start()
        await stream
        scoring.wait_ready()
        await eventually(lambda: scored_at_least(pg, clinic, len(bodies)), within=120)
        await asyncio.sleep(2)  # let any duplicate redelivery land before counting

    assert killed_at < len(bodies), "the kill came after the stream: the test proved nothing"
    assert await scored_in_clinic(pg, clinic) == len(bodies)
    responses, last_sessions = await dyads_of_clinic(pg, clinic)
    assert responses == len(bodies)
    assert last_sessions == {SESSIONS}
    records = [
        r
        for r in await read_topic(stack.kafka_bootstrap_servers, SCORED.name)
        if r.key and r.key.decode().startswith(clinic)
    ]
    published = [json.loads(r.value) for r in records]
    scored = {e["event_id"] for e in published if e["event_type"] == "response.scored"}
    assert len(scored) == len(bodies)
    # Each case went from foundation to work once (session 6): signals are not doubled either.
    phase_changes = {e["event_id"] for e in published if e["event_type"] == "clinical.signal"}
    assert len(phase_changes) == CASES
    # And what survived the kill is what the log says: a copy built from it is the same.
    code, verdict, errors = await alliance(stack, "verify", "scoring", "--clinic", clinic)
    assert code == 0, errors
    assert verdict["equal"], verdict["differences"]
