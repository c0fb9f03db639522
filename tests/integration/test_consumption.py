"""Consumption you can trust, on real Kafka and PostgreSQL (scoring as the consumer): tracked
positions, parked waiting records, dead letters sent once (truncated when too large), redrive."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from alliance_contracts.clinical_config import DEFAULT_CONFIG
from alliance_contracts.events import (
    CLINIC_LEVEL_CASE_ID,
    ClinicConfigured,
    ClinicConfiguredPayload,
    EventEnvelope,
)
from alliance_contracts.topics import CONFIG, DEAD_LETTER, RESPONSES
from alliance_platform.dead_letters import (
    REDRIVE_HEADER,
    Redrive,
    RedriveRefused,
    Source,
    partitions_of,
    read_dead_letter,
    redrive,
)
from alliance_platform.kafka import event_headers
from alliance_scoring.entrypoints.app import create_app
from alliance_scoring.settings import ScoringSettings
from tests.conftest import eventually
from tests.helpers import (
    T0,
    Record,
    live_slot,
    of_case,
    produce,
    put_dead_letter,
    read_topic,
    serving,
    submitted_event,
)
from tests.stack import Endpoints


def app(stack: Endpoints, **env: str):  # type: ignore[no-untyped-def]
    settings = {**stack.service_env("scoring"), "ALLIANCE_PARK_CHECK_SECONDS": "0.5", **env}
    return create_app(ScoringSettings.model_validate(settings))


async def responses_of(pg: asyncpg.Pool, case: str) -> int:
    return int(
        await pg.fetchval(
            "SELECT coalesce(sum(responses), 0) FROM scoring.dyad WHERE case_id = $1", case
        )
    )


async def dead_letters_of(stack: Endpoints, key: str) -> list[Record]:
    return of_case(await read_topic(stack.kafka_bootstrap_servers, DEAD_LETTER.name), key)


async def partition_of(bootstrap: str, topic: str, key: str) -> int:
    """The partition the default partitioner sends a key to."""
    partitions = await partitions_of(bootstrap, topic)
    chosen: int = DefaultPartitioner()(key.encode(), partitions, partitions)
    return chosen


@contextlib.asynccontextmanager
async def _consumer(bootstrap: str, group: str | None = None) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def produce_to(
    bootstrap: str, topic: str, partition: int, events: list[EventEnvelope]
) -> None:
    """Each event on the given partition (keyed by its case as usual)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(
                topic,
                e.model_dump_json().encode(),
                key=e.case_id.encode(),
                partition=partition,
                headers=event_headers(e),
            )
    finally:
        await producer.stop()


def configured(clinic: str, version: int) -> ClinicConfigured:
    return ClinicConfigured(
        event_id=uuid.uuid4(),
        clinic_id=clinic,
        case_id=CLINIC_LEVEL_CASE_ID,
        occurred_at=T0,
        recorded_at=T0,
        payload=ClinicConfiguredPayload(
            version=version,
            effective_from=T0 - timedelta(days=1),
            configuration=DEFAULT_CONFIG.model_dump(mode="json"),
            overrides={},
        ),
    )


async def test_positions_are_stored_and_a_group_reset_to_zero_reapplies_nothing(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    bootstrap = stack.kafka_bootstrap_servers
    clinic, case = ids("clinic"), ids("case")
    events = [submitted_event(clinic, case, s, 8.0) for s in (1, 2, 3)]
    await produce(bootstrap, RESPONSES.name, events)
    partition = await partition_of(bootstrap, RESPONSES.name, case)
    async with serving(app(stack)):
        await eventually(lambda: _at_least(responses_of(pg, case), 3))
    async with _consumer(bootstrap) as consumer:
        tp = TopicPartition(RESPONSES.name, partition)
        end = (await consumer.end_offsets([tp]))[tp]
    slot = await live_slot(pg, "scoring")
    stored = await pg.fetchval(
        f"SELECT position FROM {slot}.tracking WHERE topic = $1 AND partition = $2",
        RESPONSES.name,
        partition,
    )
    assert stored == end  # the next offset to consume, stored with the projection

    # Forget the ids (as pruning would) and rewind the group's committed offsets to 0.
    event_ids = [e.event_id for e in events]
    await pg.execute(
        f"DELETE FROM {slot}.processed_event WHERE event_id = ANY($1::uuid[])", event_ids
    )
    partitions = [
        TopicPartition(RESPONSES.name, p) for p in await partitions_of(bootstrap, RESPONSES.name)
    ]
    group = await pg.fetchval("SELECT group_id FROM scoring.generation WHERE state = 'live'")
    async with _consumer(bootstrap, group) as consumer:
        consumer.assign(partitions)
        await consumer.commit({tp: 0 for tp in partitions})
        assert await consumer.committed(TopicPartition(RESPONSES.name, partition)) == 0

    marker = submitted_event(clinic, case, 4, 9.0)
    await produce(bootstrap, RESPONSES.name, [marker])
    async with serving(app(stack)):
        await eventually(lambda: _seen(pg, marker.event_id))
    assert await responses_of(pg, case) == 4  # 3 + the marker: nothing applied twice
    again = await pg.fetchval(
        f"SELECT count(*) FROM {slot}.processed_event WHERE event_id = ANY($1::uuid[])", event_ids
    )
    assert again == 0  # skipped by position, never claimed again


async def test_a_waiting_response_is_parked_and_a_redriven_configuration_unblocks_it(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    bootstrap = stack.kafka_bootstrap_servers
    waiting_clinic, other_clinic = ids("clinic-w"), ids("clinic-o")
    waiting_case, other_case = ids("case-w"), ids("case-o")
    first = submitted_event(waiting_clinic, waiting_case, 1, 8.0).model_copy(
        update={"config_version": 1}
    )
    behind = submitted_event(waiting_clinic, waiting_case, 2, 8.0)  # parks behind `first`
    others = [submitted_event(other_clinic, other_case, s, 9.0) for s in (1, 2)]
    # One partition for all: the other clinic's case must keep flowing past the waiting one.
    await produce_to(bootstrap, RESPONSES.name, 0, [first, others[0], behind, others[1]])
    async with serving(app(stack)):
        await eventually(lambda: _at_least(responses_of(pg, other_case), 2))
        parked = await eventually(lambda: _parked(pg, waiting_case, 2))
        assert [r["waiting_for"] for r in parked] == [f"config:{waiting_clinic}:1", "key-order"]
        assert [r["offset"] for r in parked] == sorted(r["offset"] for r in parked)
        assert await responses_of(pg, waiting_case) == 0

        # The configuration event was dead-lettered (as DeadLetters writes it) and is redriven.
        event = configured(waiting_clinic, 1)
        config_partition = await partition_of(bootstrap, CONFIG.name, waiting_clinic)
        original = Source(
            CONFIG.name,
            config_partition,
            10**9,  # it never reached the topic: the body travels in the dead letter
            waiting_clinic.encode(),
            event.model_dump_json().encode(),
            tuple(event_headers(event)),
        )
        letter = await put_dead_letter(bootstrap, original, "processing failed: OSError")
        assert await redrive(bootstrap, *letter) is Redrive.SENT
        assert await redrive(bootstrap, *letter) is Redrive.ALREADY_REDRIVEN

        # No restart: the parked responses are folded in their order once the version is in.
        await eventually(lambda: _at_least(responses_of(pg, waiting_case), 2))
        assert await _parked(pg, waiting_case, 0) == []
        latest = await pg.fetchval(
            "SELECT latest FROM scoring.dyad WHERE case_id = $1", waiting_case
        )
        assert json.loads(latest)["SRS"]["session_number"] == 2

    redriven = [
        r
        for r in await read_topic(bootstrap, CONFIG.name)
        if dict(r.headers).get(REDRIVE_HEADER) == f"{letter[0]}/{letter[1]}".encode()
    ]
    assert len(redriven) == 1  # idempotent
    assert redriven[0].key == waiting_clinic.encode()
    assert redriven[0].partition == config_partition
    assert not [k for k, _ in redriven[0].headers if k.startswith("dlq_") and k != REDRIVE_HEADER]
    assert dict(redriven[0].headers)["event_type"] == b"clinic.configured"


async def test_redrive_refuses_a_message_that_would_fail_again_unless_forced(
    stack: Endpoints, ids: Callable[[str], str]
) -> None:
    bootstrap = stack.kafka_bootstrap_servers
    clinic = ids("clinic")
    broken = Source(CONFIG.name, 0, 0, clinic.encode(), b'{"event_type": "clinic.configured"}')
    letter = await put_dead_letter(bootstrap, broken, "invalid event: payload: Field required")
    with pytest.raises(RedriveRefused):
        await redrive(bootstrap, *letter)
    stored = await read_dead_letter(bootstrap, *letter)
    assert stored.reason.startswith("invalid event")
    assert stored.source == (CONFIG.name, 0, 0)
    assert await redrive(bootstrap, *letter, force=True) is Redrive.SENT


async def test_a_parked_record_past_its_timeout_is_dead_lettered_once_with_its_reason(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    never = submitted_event(clinic, case, 1, 8.0).model_copy(update={"config_version": 7})
    await produce(stack.kafka_bootstrap_servers, RESPONSES.name, [never])
    async with serving(app(stack, ALLIANCE_PARK_TIMEOUT_SECONDS="2")):
        letters = await eventually(lambda: _dead_letters(stack, case, 1), within=30)
        await asyncio.sleep(3)  # several more checks of the parked records
        assert len(await dead_letters_of(stack, case)) == 1
    headers = dict(letters[0].headers)
    assert (
        headers["dlq_reason"].decode().startswith(f"parked too long: waiting for config:{clinic}:7")
    )
    assert headers["dlq_service"] == b"scoring"
    assert headers["dlq_source"].startswith(RESPONSES.name.encode())
    assert letters[0].value == never.model_dump_json().encode()
    assert await _parked(pg, case, 0) == []
    assert await responses_of(pg, case) == 0


async def test_a_record_at_the_size_limit_is_dead_lettered_once_truncated_with_a_pointer(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, big_case, case = ids("clinic"), ids("case-big"), ids("case")
    huge = json.dumps({"event_type": "response.submitted", "note": "x" * 1_040_000}).encode()
    good = submitted_event(clinic, case, 1, 9.0)
    await produce(stack.kafka_bootstrap_servers, RESPONSES.name, [huge], key=big_case)
    await produce(stack.kafka_bootstrap_servers, RESPONSES.name, [good])
    async with serving(app(stack)):
        await eventually(lambda: _seen(pg, good.event_id))
        letters = await eventually(lambda: _dead_letters(stack, big_case, 1), within=30)
        await asyncio.sleep(2)
        assert len(await dead_letters_of(stack, big_case)) == 1
    letter = letters[0]
    headers = dict(letter.headers)
    assert headers["dlq_truncated"] == b"true"
    assert headers["dlq_original"] == headers["dlq_source"]
    assert headers["dlq_reason"].startswith(b"invalid event")
    assert len(letter.value) < len(huge)
    assert huge.startswith(letter.value)
    # The pointer leads to the stored original.
    topic, partition, offset = headers["dlq_original"].decode().rsplit("/", 2)
    async with _consumer(stack.kafka_bootstrap_servers) as consumer:
        tp = TopicPartition(topic, int(partition))
        consumer.assign([tp])
        consumer.seek(tp, int(offset))
        fetched = await consumer.getone()
    assert fetched.value == huge


async def test_an_invalid_record_is_dead_lettered_once_although_its_batch_is_rewound(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    good = submitted_event(clinic, case, 1, 9.0)
    async with serving(app(stack)):
        pass  # the projection's tables at this version
    # A transient failure (a serialization failure, as PostgreSQL reports it) the first time
    # the case's input is stored: the batch is rewound and delivered again.
    slot = await live_slot(pg, "scoring")
    name = f"{slot}.fail_once_{uuid.uuid4().hex[:8]}"
    await pg.execute(f"CREATE SEQUENCE {name}")
    await pg.execute(
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$ "
        f"BEGIN IF NEW.case_id = '{case}' AND nextval('{name}') = 1 THEN "
        "RAISE EXCEPTION 'injected' USING ERRCODE = '40001'; END IF; RETURN NEW; END $$"
    )
    trigger = name.split(".")[1]
    await pg.execute(
        f"CREATE TRIGGER {trigger} BEFORE INSERT ON {slot}.case_input "
        f"FOR EACH ROW EXECUTE FUNCTION {name}()"
    )
    try:
        await produce(stack.kafka_bootstrap_servers, RESPONSES.name, [b"\x00not json"], key=case)
        await produce(stack.kafka_bootstrap_servers, RESPONSES.name, [good])
        async with serving(app(stack)):
            await eventually(lambda: _seen(pg, good.event_id))
            await asyncio.sleep(2)
            letters = await dead_letters_of(stack, case)
    finally:
        await pg.execute(f"DROP TRIGGER {trigger} ON {slot}.case_input")
        await pg.execute(f"DROP FUNCTION {name}()")
        attempts = await pg.fetchval(f"SELECT last_value FROM {name}")
        await pg.execute(f"DROP SEQUENCE {name}")
    assert attempts >= 2  # the batch was rewound at least once
    assert len(letters) == 1
    assert dict(letters[0].headers)["dlq_reason"].startswith(b"invalid event")
    assert await responses_of(pg, case) == 1


async def _at_least(count: object, n: int) -> bool:
    assert asyncio.iscoroutine(count)
    return int(await count) >= n


async def _seen(pg: asyncpg.Pool, event_id: uuid.UUID) -> bool:
    return bool(
        await pg.fetchval("SELECT 1 FROM scoring.dyad_score WHERE source_event_id = $1", event_id)
    )


async def _parked(pg: asyncpg.Pool, case: str, n: int) -> list[asyncpg.Record] | None:
    slot = await live_slot(pg, "scoring")
    rows = await pg.fetch(
        f'SELECT waiting_for, "offset" FROM {slot}.parked WHERE key = $1 ORDER BY id',
        case.encode(),
    )
    return rows if len(rows) == n else None


async def _dead_letters(stack: Endpoints, key: str, n: int) -> list[Record] | None:
    records = await dead_letters_of(stack, key)
    return records if len(records) >= n else None


async def test_a_command_that_overtakes_its_alert_is_parked_until_the_alert_is_raised(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    from alliance_alerts.application.handlers import apply_scoring
    from alliance_alerts.entrypoints.app import create_app as alerts_app
    from alliance_alerts.settings import AlertsSettings
    from alliance_contracts.events import AlertCommand, AlertCommandPayload
    from alliance_contracts.topics import COMMANDS, SCORED
    from alliance_contracts.vocabulary import AlertCommandAction
    from tests.helpers import AUTH_ENV
    from tests.unit.clinical import srs_series
    from tests.unit.fakes.alerts import FakeAlertsUnitOfWork
    from tests.unit.test_alert_rules import outputs

    clinic, case = ids("clinic"), ids("case")
    published = outputs(srs_series(case, [38] * 6 + [30], clinic=clinic))
    folded = FakeAlertsUnitOfWork()  # alert ids are derived from the events: the same here
    await apply_scoring(folded, published)
    [alert_id] = folded.alerts.by_alert_id
    now = published[-1].recorded_at
    acknowledge = AlertCommand(
        event_id=uuid.uuid4(),
        clinic_id=clinic,
        case_id=case,
        occurred_at=now,
        recorded_at=now,
        payload=AlertCommandPayload(
            alert_id=alert_id, action=AlertCommandAction.ACKNOWLEDGE, actor_id="th-1"
        ),
    )
    await produce(stack.kafka_bootstrap_servers, COMMANDS.name, [acknowledge])
    settings = AlertsSettings.model_validate(
        {**stack.service_env("alerts"), **AUTH_ENV, "ALLIANCE_PARK_CHECK_SECONDS": "0.5"}
    )
    async with serving(alerts_app(settings)):

        async def parked() -> list[asyncpg.Record]:
            slot = await live_slot(pg, "alerts")
            return await pg.fetch(
                f"SELECT waiting_for FROM {slot}.parked WHERE key = $1", case.encode()
            )

        assert [r["waiting_for"] for r in await eventually(parked)] == [f"alert:{alert_id}"]
        await produce(stack.kafka_bootstrap_servers, SCORED.name, published)

        async def acknowledged() -> bool:
            status = await pg.fetchval(
                "SELECT status FROM alerts.alert WHERE alert_id = $1", alert_id
            )
            return bool(status == "acknowledged")

        await eventually(acknowledged)
        assert await parked() == []
