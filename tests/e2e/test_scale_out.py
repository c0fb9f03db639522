"""Several processes of each service against the real engines: two intake processes (their
outbox relays take turns), three scoring and two alerts processes sharing their consumer groups.
In the middle of a stream of responses one scoring and one alerts process get SIGKILL and are
not restarted: the others take their partitions over. Afterwards nothing is lost or scored
twice, each case's scores are in session order, and no alert is raised twice.

A stack of its own (one broker, its own PostgreSQL): the processes are this test's only
consumers, so every count is theirs.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator

import asyncpg
import httpx
import pytest

from alliance_contracts.access import Scope
from alliance_contracts.topics import NOTICES, SCORED
from alliance_devstack.client import LaunchedStack, launched_stack
from alliance_devstack.processes import ServiceProcess
from tests.conftest import eventually
from tests.e2e.own_stacks import (
    caught_up,
    first_scored,
    issuer,
    scored_at_least,
    scored_in_clinic,
    service_env,
    sessions_of,
)
from tests.helpers import read_topic, response_body

REPLICAS = {"intake": 2, "scoring": 3, "alerts": 2}
CASES = 24
# SRS totals of each case's sessions: a stable alliance, then a sudden drop (a rupture).
TOTALS = [38.0] * 6 + [30.0]
PACE_S = 0.03
PARTITIONS = 12  # of every topic (the launcher's default)


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedStack]:
    directory = tmp_path_factory.mktemp("scale-out")
    with launched_stack(directory, start_timeout=600, output=sys.stderr) as launched:
        yield launched


@pytest.fixture(scope="module")
def replicas(
    own_stack: LaunchedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, list[ServiceProcess]]]:
    logs = tmp_path_factory.mktemp("scale-out-logs")
    running = {
        name: [
            ServiceProcess(name, service_env(own_stack, name), logs / f"{name}-{i}.log")
            for i in range(count)
        ]
        for name, count in REPLICAS.items()
    }
    everyone = [p for processes in running.values() for p in processes]
    try:
        for process in everyone:
            process.start()
        for process in everyone:
            process.wait_ready()
        yield running
    finally:
        for process in everyone:
            process.stop()


async def test_replicas_share_the_work_and_survive_a_kill(
    own_stack: LaunchedStack,
    replicas: dict[str, list[ServiceProcess]],
    ids: Callable[[str], str],
) -> None:
    clinic = ids("scale-clinic")
    token = issuer(own_stack).clinic_system("scale-out", [Scope.RESPONSES_WRITE], [clinic], hours=1)
    cases = [f"{clinic}-case{c}" for c in range(CASES)]
    # Session by session across the cases; each response to the next intake process in turn.
    bodies = [
        response_body(clinic, case, s, total / 4)
        for s, total in enumerate(TOTALS, start=1)
        for case in cases
    ]
    doors = [p.url for p in replicas["intake"]]
    posted: Counter[str] = Counter()

    async def post_all(client: httpx.AsyncClient) -> None:
        for n, body in enumerate(bodies):
            door = doors[n % len(doors)]
            r = await client.post(f"{door}/v1/responses", json=body)
            assert r.status_code == 202, r.text
            posted[door] += 1
            await asyncio.sleep(PACE_S)

    pg = await asyncpg.connect(own_stack.env["DATABASE_URL"])
    try:
        headers = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(timeout=30, headers=headers) as client:
            stream = asyncio.create_task(post_all(client))
            await eventually(lambda: scored_at_least(pg, clinic, len(bodies) // 3), within=120)
            shared = _assigned(replicas["scoring"][0])[-1]
            replicas["scoring"][0].kill9()
            replicas["alerts"][0].kill9()
            killed_at = await scored_in_clinic(pg, clinic)
            await stream
        await eventually(lambda: scored_at_least(pg, clinic, len(bodies)), within=240)
        await eventually(lambda: asyncio.to_thread(caught_up, own_stack), within=240)
        await asyncio.sleep(2)  # let any duplicate redelivery land before counting

        scored = await scored_in_clinic(pg, clinic)
        alerts = await pg.fetch(
            "SELECT case_id, kind, subject, alert_id FROM alerts.alert WHERE clinic_id = $1",
            clinic,
        )
    finally:
        await pg.close()
    print(
        f"scale-out: posted {sum(posted.values())} through {len(posted)} intake processes, "
        f"scored {scored} (killed at {killed_at}), alerts {len(alerts)} over {CASES} cases"
    )
    assert killed_at < len(bodies), "the kill came after the stream: the test proved nothing"
    assert set(posted) == set(doors)  # both intake processes took responses
    assert scored == len(bodies)  # none lost, none scored twice
    # The three shared each topic's 12 partitions; the two left took the killed one's over.
    assert 0 < shared < PARTITIONS
    assert sum(_assigned(p)[-1] for p in replicas["scoring"][1:]) == PARTITIONS

    records = await read_topic(own_stack.env["KAFKA_BOOTSTRAP_SERVERS"], SCORED.name)
    events = first_scored([r.value for r in records if r.key and r.key.decode() in cases])
    assert len(events) == len(bodies)  # one scored event per response
    for case in cases:  # per case, the sessions in order on the topic
        assert sessions_of(events, case) == list(range(1, len(TOTALS) + 1)), case

    # Every case had the same history: the same kinds of alert, each raised once.
    assert len({(a["case_id"], a["kind"], a["subject"]) for a in alerts}) == len(alerts)
    kinds = {case: Counter[str]() for case in cases}
    for a in alerts:
        kinds[a["case_id"]][a["kind"]] += 1
    reference = kinds[cases[0]]
    assert reference, "the drop raised no alert: the test proved nothing"
    assert all(found == reference for found in kinds.values()), kinds
    notices = [
        json.loads(r.value)
        for r in await read_topic(own_stack.env["KAFKA_BOOTSTRAP_SERVERS"], NOTICES.name)
        if r.key and r.key.decode().startswith(clinic)
    ]
    raised = Counter(
        n["payload"]["alert_id"] for n in notices if n["payload"]["action"] == "raised"
    )
    assert set(raised) == {str(a["alert_id"]) for a in alerts}
    distinct_ids = {n["event_id"] for n in notices if n["payload"]["action"] == "raised"}
    assert len(distinct_ids) == len(alerts)  # one raised notice per alert (repeats: same id)


def _assigned(process: ServiceProcess) -> list[int]:
    """The partitions its consumers were assigned, one count per assignment, in log order."""
    counts = []
    for line in process.log_path.read_text().splitlines():
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("msg") == "partitions assigned; seeking to stored positions":
            counts.append(int(entry["assigned"]))
    return counts
