"""Blue/green rebuilds of scoring and alerts while responses keep flowing and GraphQL is read in
a loop: no reader ever gets an empty or missing answer, and the rebuilt projections equal a copy
built from the log (`alliance verify`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from alliance_devstack.processes import ServiceProcess
from tests.conftest import eventually
from tests.helpers import alliance, bearer, clinic_system, graphql, response_body
from tests.stack import Endpoints

CASES, WARM, SESSIONS = 6, 3, 12
CASE = """query($clinic: ID!, $case: ID!) { case(clinicId: $clinic, caseId: $case) {
  phase dyads { responses latest { instrument total } } } }"""
ALERTS = """query($clinic: ID!) { alerts(clinicId: $clinic, first: 50) {
  edges { node { caseId kind status } } } }"""


async def run(stack: Endpoints, *args: str) -> dict[str, Any]:
    code, answer, errors = await alliance(stack, *args)
    assert code == 0, f"alliance {' '.join(args)}: {errors}"
    assert isinstance(answer, dict)
    return answer


@pytest.mark.timeout(600)
async def test_rebuilds_under_load_leave_no_reader_without_an_answer(
    stack: Endpoints, services: dict[str, ServiceProcess], ids: Callable[[str], str]
) -> None:
    clinic = ids("bluegreen")
    cases = [f"{clinic}-case{c}" for c in range(CASES)]
    intake, gateway = services["intake"].url, services["gateway"].url
    machine = clinic_system([clinic])

    async def post(client: httpx.AsyncClient, session: int) -> None:
        for case in cases:
            body = response_body(clinic, case, session, 7.0)  # SRS 28: under the cut-off
            accepted = await client.post(f"{intake}/v1/responses", json=body, headers=machine)
            assert accepted.status_code == 202, accepted.text

    async def responses_of(client: httpx.AsyncClient, case: str) -> int:
        data = await graphql(client, gateway, CASE, clinic=clinic, case=case)
        return sum(d["responses"] for d in (data["case"] or {}).get("dyads", []))

    async with httpx.AsyncClient(timeout=20, headers=bearer("supervisor", [clinic])) as client:
        for session in range(1, WARM + 1):
            await post(client, session)

        async def warm() -> bool:
            counts = [await responses_of(client, case) for case in cases]
            alerts = await graphql(client, gateway, ALERTS, clinic=clinic)
            return min(counts) == WARM and len(alerts["alerts"]["edges"]) >= CASES

        await eventually(warm, within=90)

        reads, missing = 0, []
        stop = asyncio.Event()

        async def read_in_a_loop() -> None:
            nonlocal reads
            while not stop.is_set():
                for case in cases:
                    if await responses_of(client, case) < WARM:
                        missing.append(f"case {case}")
                alerts = await graphql(client, gateway, ALERTS, clinic=clinic)
                if len(alerts["alerts"]["edges"]) < CASES:
                    missing.append("alerts")
                reads += 1
                # Under the door's per-caller limit (100/s): a 429 is no answer either.
                await asyncio.sleep(0.05)

        async def stream() -> None:
            for session in range(WARM + 1, SESSIONS + 1):
                await post(client, session)
                await asyncio.sleep(0.5)

        reader, load = asyncio.create_task(read_in_a_loop()), asyncio.create_task(stream())
        before = await run(stack, "status")
        scoring = await run(stack, "rebuild", "scoring", "--wait", "--timeout", "300")
        alerts = await run(stack, "rebuild", "alerts", "--wait", "--timeout", "300")
        await load
        stop.set()
        await reader

        async def all_scored() -> bool:
            return all([await responses_of(client, case) == SESSIONS for case in cases])

        await eventually(all_scored, within=90)

    assert scoring["switched"]
    assert alerts["switched"]
    assert reads >= 5, "the readers did not run during the rebuilds: the test proved nothing"
    assert missing == [], f"{len(missing)} of {reads} reads found an empty or missing answer"
    live_before = {p["projection"]: p["live"] for p in before["projections"]}
    after = await run(stack, "status")
    live_after = {p["projection"]: p["live"] for p in after["projections"]}
    assert live_after["scoring"] == scoring["generation"] != live_before["scoring"]
    assert live_after["alerts"] == alerts["generation"] != live_before["alerts"]
    # (This clinic's rows: the session's other tests also write rows the log does not hold.)
    for projection in ("scoring", "alerts"):
        verdict = await run(stack, "verify", projection, "--clinic", clinic, "--timeout", "120")
        assert verdict["equal"], verdict["differences"]
