"""The seek to the stored positions holds from the first fetch, on real Kafka and PostgreSQL.

A group's committed offset lags its stored position whenever the convenience commit of the last
batch did not land (a stop, a crash). The rebalance listener reads the stored positions from
PostgreSQL, which takes a while; aiokafka meanwhile resets the positions from the committed
offsets and fetches. Unless the assigned partitions are paused for that while, the first batch
handed out starts at the committed offset, below the stored position (fenced by the claim, but
fetched and skipped: the one-batch re-read `test_graceful_shutdown` saw in full-suite runs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from alliance_platform.tracking import SeekToStoredPositions, Tracking
from tests.stack import Endpoints

RECORDS, STORED = 40, 30


class SlowToAnswer:
    """The pool, answering its queries only after a delay: a busy database's timing."""

    def __init__(self, pool: asyncpg.Pool, delay_s: float) -> None:
        self.pool, self.delay_s = pool, delay_s

    async def fetch(self, *args: Any) -> list[asyncpg.Record]:
        await asyncio.sleep(self.delay_s)
        return await self.pool.fetch(*args)


async def test_no_record_below_the_stored_position_is_handed_out(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    bootstrap = stack.kafka_bootstrap_servers
    topic, group, schema = (
        ids("seek-topic"),
        ids("seek-group"),
        ids("seek_schema").replace("-", "_"),
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    tp = TopicPartition(topic, 0)
    await pg.execute(
        f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.tracking (topic text, partition int, "
        "position bigint NOT NULL, PRIMARY KEY (topic, partition))"
    )
    await pg.execute(f"INSERT INTO {schema}.tracking VALUES ($1, 0, $2)", topic, STORED)

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(RECORDS):
            await producer.send_and_wait(topic, str(n).encode(), partition=0)
    finally:
        await producer.stop()
    # The group's committed offset: at the start, far behind the stored position.
    committer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await committer.start()
    try:
        committer.assign([tp])
        await committer.commit({tp: 0})
    finally:
        await committer.stop()

    slow = SlowToAnswer(pg, delay_s=1.0)
    tracking = Tracking(pool=lambda: slow, schema=schema, topic=topic)  # type: ignore[arg-type, return-value]
    listener = SeekToStoredPositions(tracking)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
    )
    listener.subscriber = SimpleNamespace(consumer=consumer)
    consumer.subscribe([topic], listener=listener)
    await consumer.start()
    try:
        handed: list[int] = []
        for _ in range(100):
            batch = await consumer.getmany(timeout_ms=200)
            handed += [record.offset for records in batch.values() for record in records]
            if handed and handed[-1] == RECORDS - 1:
                break
    finally:
        await consumer.stop()
        await pg.execute(f"DROP SCHEMA {schema} CASCADE")
    assert handed == list(range(STORED, RECORDS)), handed
