"""Scoring against real Kafka and PostgreSQL: projection, redelivery, dead letters."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from alliance_contracts.events import derived_event_id
from alliance_contracts.timing import utc_now as now
from alliance_contracts.topics import DEAD_LETTER, RESPONSES, SCORED
from alliance_scoring.adapters.hot_cases import HotCases
from alliance_scoring.adapters.unit_of_work import PostgresScoringUnitOfWork
from alliance_scoring.application.project import project_batch
from alliance_scoring.domain.case import new_case
from alliance_scoring.entrypoints.app import create_app
from alliance_scoring.settings import ScoringSettings
from tests.conftest import eventually
from tests.helpers import (
    Record,
    of_case,
    produce,
    read_topic,
    serving,
    slot_pool,
    submitted_event,
)
from tests.stack import Endpoints


def app(stack: Endpoints):  # type: ignore[no-untyped-def]
    return create_app(ScoringSettings.model_validate(stack.service_env("scoring")))


async def dyads(pg: asyncpg.Pool, case: str) -> list[asyncpg.Record]:
    return await pg.fetch(
        "SELECT respondent_role, respondent_id, responses, latest FROM scoring.dyad "
        "WHERE case_id = $1 ORDER BY respondent_role, respondent_id",
        case,
    )


async def test_responses_become_dyad_projections_and_scored_events(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    events = [
        submitted_event(clinic, case, 1, 8.0),
        submitted_event(clinic, case, 2, 9.5),
        submitted_event(clinic, case, 1, 4, instrument="WAI-SR"),
        submitted_event(clinic, case, 1, 7.0, role="parent", respondent_id="p1"),
    ]
    await produce(stack.kafka_bootstrap_servers, RESPONSES.name, events)
    async with serving(app(stack)):

        async def four_responses() -> list[asyncpg.Record] | None:
            rows = await dyads(pg, case)
            return rows if sum(r["responses"] for r in rows) == 4 else None

        rows = await eventually(four_responses)
        # Redelivery of the very same events changes nothing.
        await produce(stack.kafka_bootstrap_servers, RESPONSES.name, events)
        marker = submitted_event(clinic, case, 3, 9.0)
        await produce(stack.kafka_bootstrap_servers, RESPONSES.name, [marker])

        async def marker_seen() -> bool:
            return bool(
                await pg.fetchval(
                    "SELECT 1 FROM scoring.dyad_score WHERE source_event_id = $1", marker.event_id
                )
            )

        await eventually(marker_seen)
        scored = await eventually(lambda: _scored_of(stack, case, expected=5), within=30)

    client, parent = rows[0], rows[1]
    assert (client["respondent_role"], client["responses"]) == ("client", 3)
    latest = json.loads(client["latest"])
    assert latest["SRS"]["total"] == 38.0
    assert latest["SRS"]["session_number"] == 2
    assert latest["WAI-SR"]["total"] == 48.0
    assert (parent["respondent_role"], parent["respondent_id"], parent["responses"]) == (
        "parent",
        "p1",
        1,
    )
    after = await dyads(pg, case)
    assert sum(r["responses"] for r in after) == 5  # 4 + the marker, no double count
    timeline = await pg.fetch(
        "SELECT s.total, s.subscales FROM scoring.dyad_score s JOIN scoring.dyad d USING (dyad_id) "
        "WHERE d.case_id = $1 AND s.instrument = 'WAI-SR'",
        case,
    )
    assert json.loads(timeline[0]["subscales"]) == {"task": 16, "bond": 16, "goal": 16}
    expected_ids = {str(derived_event_id("scored", e.event_id)) for e in [*events, marker]}
    published = [json.loads(r.value) for r in scored]
    scores = {e["event_id"] for e in published if e["event_type"] == "response.scored"}
    assert scores == expected_ids
    # Session 1's SRS total of 32 is below the cut-off: a rupture signal with its evidence.
    signals = [e["payload"] for e in published if e["event_type"] == "clinical.signal"]
    opened = [s for s in signals if s["kind"] == "rupture_opened"]
    assert opened
    assert opened[0]["evidence"][0]["rule"] == "below_cutoff"


async def _scored_of(stack: Endpoints, case: str, expected: int) -> list[Record] | None:
    records = of_case(await read_topic(stack.kafka_bootstrap_servers, SCORED.name), case)
    distinct = {
        e["event_id"]
        for e in map(json.loads, (r.value for r in records))
        if e["event_type"] == "response.scored"
    }
    return records if len(distinct) >= expected else None


async def test_poison_messages_are_dead_lettered_and_the_stream_goes_on(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    unscorable = submitted_event(clinic, case, 1, 8.0)
    unscorable = unscorable.model_copy(
        update={"payload": unscorable.payload.model_copy(update={"answers": {1: 99.0}})}
    )
    good = submitted_event(clinic, case, 2, 9.0)
    await produce(
        stack.kafka_bootstrap_servers,
        RESPONSES.name,
        [b"\x00not json", b'{"event_type": "response.submitted"}'],
        key=case,
    )
    await produce(stack.kafka_bootstrap_servers, RESPONSES.name, [unscorable, good])
    async with serving(app(stack)):

        async def good_scored() -> bool:
            return bool(
                await pg.fetchval(
                    "SELECT 1 FROM scoring.dyad_score WHERE source_event_id = $1", good.event_id
                )
            )

        await eventually(good_scored)

        async def dead() -> list[Record] | None:
            records = of_case(
                await read_topic(stack.kafka_bootstrap_servers, DEAD_LETTER.name), case
            )
            return records if len(records) >= 3 else None

        records = await eventually(dead, within=30)
    reasons = sorted(dict(r.headers)["dlq_reason"].decode() for r in records)
    assert any(r.startswith("invalid event") and "Invalid JSON" in r for r in reasons), reasons
    assert any(r.startswith("invalid event") and "event_id" in r for r in reasons), reasons
    assert any(r.startswith("processing failed") and "answers.1" in r for r in reasons), reasons
    for r in records:
        headers = dict(r.headers)
        assert headers["dlq_service"] == b"scoring"
        assert headers["dlq_source"].startswith(RESPONSES.name.encode())


async def test_case_states_kept_in_memory_are_what_committed(
    stack: Endpoints, ids: Callable[[str], str]
) -> None:
    """A batch's case states are kept once its transaction commits and are what `case_state`
    holds; a batch rolled back leaves none of its cases in memory (decision 0021)."""
    clinic, case = ids("clinic"), ids("case")
    key = (clinic, case)
    hot = HotCases(capacity=100)
    async with slot_pool(stack, "scoring") as (pool, schema):
        first = [submitted_event(clinic, case, 1, 8.0), submitted_event(clinic, case, 2, 9.0)]
        assert await project_batch(PostgresScoringUnitOfWork(pool, schema, hot=hot), first, now)
        async with PostgresScoringUnitOfWork(pool, schema) as reader:
            stored = await reader.cases.get([key])
        assert hot.get([key]) == stored
        assert stored[key].latest_session == 2

        with pytest.raises(RuntimeError):
            await save_then_fail(PostgresScoringUnitOfWork(pool, schema, hot=hot), clinic, case)
        assert hot.get([key]) == {}  # read back from the database next time
        async with PostgresScoringUnitOfWork(pool, schema) as reader:
            assert await reader.cases.get([key]) == stored  # nothing of it committed

        later = [submitted_event(clinic, case, 3, 7.0)]
        assert await project_batch(PostgresScoringUnitOfWork(pool, schema, hot=hot), later, now)
        async with PostgresScoringUnitOfWork(pool, schema) as reader:
            assert hot.get([key]) == await reader.cases.get([key])
        assert hot.get([key])[key].latest_session == 3


async def save_then_fail(uow: PostgresScoringUnitOfWork, clinic: str, case: str) -> None:
    async with uow:
        await uow.cases.save([new_case(clinic, case)], now())
        raise RuntimeError("the batch fails after saving")


async def test_ready_once_its_consumers_hold_their_partitions(stack: Endpoints) -> None:
    """`/readyz` includes `partitions`: every tracked consumer has joined its group and knows
    its topics' partitions (issue 13: a member that joined before its topics existed sat for
    minutes with nothing while answering ready)."""
    async with serving(app(stack)) as client:

        async def ready() -> dict[str, Any] | None:
            response = await client.get("/readyz")
            body: dict[str, Any] = response.json()
            return body if response.status_code == 200 else None

        body = await eventually(ready, within=60)
    assert body["checks"]["partitions"] == "up"
