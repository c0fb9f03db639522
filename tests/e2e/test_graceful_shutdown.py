"""SIGTERM to a busy scoring process: it stops taking records, finishes and commits the batch in
hand, publishes what its outbox holds, and exits 0 within a bounded time. Restarted, it reads on
from its stored positions: no record is applied twice and no event is published twice.

A stack of its own (one broker, its own PostgreSQL), so that this scoring process is the only
member of its group.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from alliance_contracts.topics import RESPONSES, SCORED
from alliance_devstack.client import LaunchedStack, launched_stack
from alliance_devstack.processes import ServiceProcess
from tests.conftest import eventually
from tests.e2e.own_stacks import (
    caught_up,
    first_scored,
    scored_at_least,
    scored_in_clinic,
    service_env,
    status,
)
from tests.helpers import produce, read_topic, submitted_event

CASES, SESSIONS = 30, 10  # 300 responses
STOP_WITHIN_S = 30.0  # the broker's graceful timeout (15 s) and the relay's drain (10 s), at most


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedStack]:
    directory = tmp_path_factory.mktemp("graceful")
    with launched_stack(directory, start_timeout=600, output=sys.stderr) as launched:
        yield launched


async def test_a_clean_stop_commits_its_batch_and_nothing_is_read_twice(
    own_stack: LaunchedStack, tmp_path: Path, ids: Callable[[str], str]
) -> None:
    clinic = ids("stop-clinic")
    cases = [f"{clinic}-case{c}" for c in range(CASES)]
    events = [
        submitted_event(clinic, case, s, 8.0) for s in range(1, SESSIONS + 1) for case in cases
    ]
    scoring = ServiceProcess("scoring", service_env(own_stack, "scoring"), tmp_path / "scoring.log")
    scoring.start()
    pg = await asyncpg.connect(own_stack.env["DATABASE_URL"])
    try:
        scoring.wait_ready()

        async def stream() -> None:  # a session of every case at a time, paced
            for at in range(0, len(events), CASES):
                chunk = events[at : at + CASES]
                await produce(own_stack.env["KAFKA_BOOTSTRAP_SERVERS"], RESPONSES.name, chunk)
                await asyncio.sleep(0.5)

        streaming = asyncio.create_task(stream())
        await eventually(lambda: scored_at_least(pg, clinic, 50), within=60)
        began = time.monotonic()
        code = scoring.stop(timeout=STOP_WITHIN_S)
        took = time.monotonic() - began
        stopped_at = await scored_in_clinic(pg, clinic)
        backlog = {o["schema"]: o["backlog"] for o in status(own_stack)["outboxes"]}

        await streaming
        restarted_from = scoring.log_path.stat().st_size
        scoring.start()
        scoring.wait_ready()
        await eventually(lambda: scored_at_least(pg, clinic, len(events)), within=120)
        await eventually(lambda: asyncio.to_thread(caught_up, own_stack), within=120)
        scored = await scored_in_clinic(pg, clinic)
    finally:
        scoring.stop()
        await pg.close()
    print(
        f"graceful stop: exit {code} in {took:.1f} s with {stopped_at} of {len(events)} scored; "
        f"outboxes after it {backlog}"
    )
    assert code == 0, scoring.log_tail()
    assert took < STOP_WITHIN_S
    assert stopped_at < len(events), "the stop came after the stream: the test proved nothing"
    assert all(n == 0 for n in backlog.values()), backlog  # its outbox was published first
    assert scored == len(events)
    after_restart = scoring.log_path.read_bytes()[restarted_from:].decode()
    # Nothing applied twice (above and below), nor even fetched again: the restarted consumer
    # pauses its partitions until it has sought to the stored positions (before that pause, in
    # some full-suite runs it was handed its last batch again from Kafka's committed offset:
    # `tests/integration/test_tracked_seek.py`). The trail shows rebalances and rewinds.
    trail = [
        line
        for line in after_restart.splitlines()
        if "partitions assigned" in line or "skipped records" in line or "batch failed" in line
    ]
    skipped = sum(json.loads(line).get("skipped", 0) for line in trail if "skipped records" in line)
    print(f"after the restart: {skipped} records fetched again and skipped", *trail, sep="\n")
    assert skipped == 0, "\n".join(trail)
    assert "seeking to stored positions" in after_restart
    records = await read_topic(own_stack.env["KAFKA_BOOTSTRAP_SERVERS"], SCORED.name)
    ours = [r.value for r in records if r.key and r.key.decode() in cases]
    published = first_scored(ours)
    assert len(published) == len(events)
    assert sum(b'"response.scored"' in value for value in ours) == len(events)  # none twice
