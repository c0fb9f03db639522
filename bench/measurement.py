"""The Kafka phases: fill the topic and drain it (raw and validated), and the topic helpers
they share with the others."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from alliance_contracts.events import ResponseSubmitted
from alliance_contracts.topics import RESPONSES
from alliance_platform.kafka import event_headers
from bench.machine import CpuMeter

POLL_S = 0.25
MAX_RECORDS = 500


@dataclass(frozen=True)
class Stack:
    bootstrap: str
    database_url: str
    kafka_pid: int
    postgres_pid: int
    kafka_version: str
    directory: Path


@dataclass
class Phase:
    name: str
    events: int
    seconds: float
    cpu_s: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("nan")


async def fill(stack: Stack, events: list[ResponseSubmitted], meter: CpuMeter) -> tuple[Phase, int]:
    """Produces the events; returns the phase and the total value bytes."""
    records = [(e.case_id.encode(), e.model_dump_json().encode(), event_headers(e)) for e in events]
    value_bytes = sum(len(v) for _, v, _ in records)
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.bootstrap,
        client_id="bench-fill",
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    try:
        await producer.partitions_for(RESPONSES.name)  # metadata before the clock starts
        cpu0, t0 = meter.snapshot(), time.perf_counter()
        futures = [
            await producer.send(RESPONSES.name, value=v, key=k, headers=h) for k, v, h in records
        ]
        await producer.flush()
        seconds, cpu1 = time.perf_counter() - t0, meter.snapshot()
        for f in futures:
            f.result()  # raises if a send failed
    finally:
        await producer.stop()
    return Phase("fill", len(events), seconds, CpuMeter.delta(cpu0, cpu1)), value_bytes


async def partitions_of(bootstrap: str, topics: list[str]) -> dict[str, list[int]]:
    """Partition ids per topic, from the cluster metadata (a producer waits for it)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="bench-metadata")
    await producer.start()
    try:
        return {t: sorted(await producer.partitions_for(t)) for t in topics}
    finally:
        await producer.stop()


async def topic_sizes(bootstrap: str, topics: list[str]) -> dict[str, int]:
    """Records per topic (sum of end offsets; the topics are new and never compacted)."""
    parts = await partitions_of(bootstrap, topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id="bench-sizes")
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in parts[t]]
        end = await consumer.end_offsets(tps)
        return {t: sum(v for tp, v in end.items() if tp.topic == t) for t in topics}
    finally:
        await consumer.stop()


async def wait_for_leaders(bootstrap: str, topic: str, within_s: float = 60) -> None:
    """Just-created topics answer NotLeaderForPartition for a moment; a ListOffsets to every
    partition's leader succeeds once they all lead, so the fill is not timed through that."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            await asyncio.wait_for(topic_sizes(bootstrap, [topic]), timeout=10)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def drain(
    stack: Stack,
    n: int,
    partitions: int,
    meter: CpuMeter,
    name: str,
    decode: Callable[[bytes], object] | None,
) -> Phase:
    """Reads the whole topic with getmany(max_records=500), no group and no commits."""
    parts = (await partitions_of(stack.bootstrap, [RESPONSES.name]))[RESPONSES.name]
    tps = [TopicPartition(RESPONSES.name, p) for p in parts]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.bootstrap,
        client_id=f"bench-{name}",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        if len(tps) != partitions:
            raise RuntimeError(f"{RESPONSES.name} has {len(tps)} partitions, not {partitions}")
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        available = sum((await consumer.end_offsets(tps)).values())
        if available != n:
            raise RuntimeError(f"{RESPONSES.name} holds {available} records, not {n}")
        count = 0
        cpu0, t0 = meter.snapshot(), time.perf_counter()
        if decode is None:
            while count < n:
                batch = await consumer.getmany(timeout_ms=1000, max_records=MAX_RECORDS)
                for recs in batch.values():
                    count += len(recs)
        else:
            while count < n:
                batch = await consumer.getmany(timeout_ms=1000, max_records=MAX_RECORDS)
                for recs in batch.values():
                    for r in recs:
                        decode(r.value)
                    count += len(recs)
        seconds, cpu1 = time.perf_counter() - t0, meter.snapshot()
    finally:
        await consumer.stop()
    return Phase(name, count, seconds, CpuMeter.delta(cpu0, cpu1))
