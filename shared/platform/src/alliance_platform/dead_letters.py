"""The dead-letter topic: sending a record there once (with its reason, and within the broker's
size limit), and looking into it and redriving it (the library under `alliance dlq`).

A dead letter keeps its record's key and headers and adds `dlq_reason`, `dlq_service` and
`dlq_source` (`topic/partition/offset`). One whose body and headers would not fit the broker's
`message.max.bytes` carries a truncated body, `dlq_truncated: true` and `dlq_original` (the
same pointer): the source topics keep their full history, so the original is read from there.

A redrive puts the original back on its source topic and partition with its key and headers
(minus `dlq_*`) and the header `dlq_redrive_of: <dead-letter partition>/<offset>`. It is
idempotent: the source partition is searched, from the dead letter's time on, for a record
carrying that header (nothing can have redriven it before it was written).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from faststream.kafka import KafkaBroker
from pydantic import TypeAdapter, ValidationError

from alliance_contracts.topics import DEAD_LETTER, event_union
from alliance_platform.kafka import DEFAULT_MESSAGE_MAX_BYTES, kafka_client_options
from alliance_platform.metrics import DEAD_LETTERED

log = logging.getLogger(__name__)

# Kafka's default `message.max.bytes` (1 MiB + 12 bytes of record-batch overhead).
# Kept free under the limit for the record batch's framing and the publisher's own headers.
HEADROOM_BYTES = 16_384
REDRIVE_HEADER = "dlq_redrive_of"


@dataclass(frozen=True)
class Source:
    """A consumed record, as far as a dead letter (or a parked record) needs it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def of(cls, record: ConsumerRecord[Any, Any]) -> Source:
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value or b"",
            tuple(record.headers or ()),
        )

    @property
    def pointer(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


def dead_letter_headers(source: Source, reason: str, service: str) -> dict[str, str]:
    return {
        **{k: v.decode(errors="replace") for k, v in source.headers},
        "dlq_reason": reason[:1000],
        "dlq_service": service,
        "dlq_source": source.pointer,
    }


def fit_to_limit(
    source: Source, headers: dict[str, str], max_message_bytes: int
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of the dead letter: the whole record when it fits the broker's
    limit, else a truncated body and the pointer to the original."""
    overhead = len(source.key or b"") + sum(len(k) + len(v.encode()) for k, v in headers.items())
    budget = max_message_bytes - HEADROOM_BYTES - overhead
    if len(source.value) <= budget:
        return source.value, headers
    marked = {**headers, "dlq_truncated": "true", "dlq_original": source.pointer}
    return source.value[: max(0, budget - 64)], marked


@dataclass(frozen=True)
class DeadLetters:
    broker: KafkaBroker
    service: str
    max_message_bytes: int = DEFAULT_MESSAGE_MAX_BYTES

    async def send(self, source: Source, reason: str) -> None:
        """Publishes the dead letter and waits for Kafka's acknowledgement."""
        value, headers = fit_to_limit(
            source, dead_letter_headers(source, reason, self.service), self.max_message_bytes
        )
        await self.broker.publish(value, DEAD_LETTER.name, key=source.key, headers=headers)
        DEAD_LETTERED.labels(source.topic).inc()
        log.warning(
            "dead-lettered a message",
            extra={
                "topic": source.topic,
                "partition": source.partition,
                "offset": source.offset,
                "reason": reason[:200],
                "truncated": "dlq_truncated" in headers,
            },
        )


@dataclass(frozen=True)
class DeadLetter:
    """A record of the dead-letter topic."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]

    @classmethod
    def of(cls, record: ConsumerRecord[Any, Any]) -> DeadLetter:
        return cls(
            record.partition,
            record.offset,
            record.timestamp,
            record.key,
            record.value or b"",
            dict(record.headers or ()),
        )

    def header(self, name: str) -> str:
        return self.headers.get(name, b"").decode(errors="replace")

    @property
    def reason(self) -> str:
        return self.header("dlq_reason")

    @property
    def service(self) -> str:
        return self.header("dlq_service")

    @property
    def truncated(self) -> bool:
        return self.header("dlq_truncated") == "true"

    @property
    def source(self) -> tuple[str, int, int]:
        """The original's topic, partition and offset (from `dlq_source`)."""
        topic, partition, offset = self.header("dlq_source").rsplit("/", 2)
        return topic, int(partition), int(offset)

    @property
    def pointer(self) -> str:
        return f"{self.partition}/{self.offset}"

    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.headers.items() if not k.startswith("dlq_")]


class RedriveRefused(Exception):
    """The dead letter would fail the same way again (its body does not validate)."""


class Redrive(Enum):
    SENT = "sent"
    ALREADY_REDRIVEN = "already redriven"


async def list_dead_letters(bootstrap: str) -> list[DeadLetter]:
    """Every record of the dead-letter topic, per partition in offset order."""
    partitions = [
        TopicPartition(DEAD_LETTER.name, p)
        for p in await partitions_of(bootstrap, DEAD_LETTER.name)
    ]
    async with _reader(bootstrap) as consumer:
        records = await _read_from(consumer, {tp: None for tp in partitions})
    return [DeadLetter.of(r) for r in records]


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    """The topic's partitions (a producer waits for the metadata, a consumer does not)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **kafka_client_options())
    await producer.start()
    try:
        return sorted(await producer.partitions_for(topic))
    finally:
        await producer.stop()


async def read_dead_letter(bootstrap: str, partition: int, offset: int) -> DeadLetter:
    async with _reader(bootstrap) as consumer:
        return DeadLetter.of(await _read_one(consumer, DEAD_LETTER.name, partition, offset))


async def redrive(bootstrap: str, partition: int, offset: int, *, force: bool = False) -> Redrive:
    """Puts the dead letter at `partition/offset` back on its source topic and partition, with
    its original key, body and headers. Idempotent; refuses a body that does not validate
    against the source topic's events unless `force`."""
    async with _reader(bootstrap) as consumer:
        letter = DeadLetter.of(await _read_one(consumer, DEAD_LETTER.name, partition, offset))
        topic, source_partition, source_offset = letter.source
        value = letter.value
        if letter.truncated:
            value = (await _read_one(consumer, topic, source_partition, source_offset)).value
        if not force:
            try:
                TypeAdapter(event_union(topic)).validate_json(value)
            except ValidationError as exc:
                raise RedriveRefused(f"does not validate as an event of {topic}: {exc}") from exc
        if await _redriven(consumer, topic, source_partition, letter):
            return Redrive.ALREADY_REDRIVEN
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        max_request_size=DEFAULT_MESSAGE_MAX_BYTES,
        **kafka_client_options(),
    )
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            value,
            key=letter.key,
            partition=source_partition,
            headers=[*letter.original_headers(), (REDRIVE_HEADER, letter.pointer.encode())],
        )
    finally:
        await producer.stop()
    log.info("redrove a dead letter", extra={"dead_letter": letter.pointer, "topic": topic})
    return Redrive.SENT


async def _redriven(
    consumer: AIOKafkaConsumer, topic: str, partition: int, letter: DeadLetter
) -> bool:
    tp = TopicPartition(topic, partition)
    found = await consumer.offsets_for_times({tp: letter.timestamp_ms})
    start = found[tp].offset if found.get(tp) else None
    if start is None:
        return False  # nothing written to the source partition since the dead letter
    mark = letter.pointer.encode()
    records = await _read_from(consumer, {tp: start})
    return any(dict(r.headers or ()).get(REDRIVE_HEADER) == mark for r in records)


@contextlib.asynccontextmanager
async def _reader(bootstrap: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer without a group that reads explicitly assigned partitions."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=4 * DEFAULT_MESSAGE_MAX_BYTES,
        max_partition_fetch_bytes=2 * DEFAULT_MESSAGE_MAX_BYTES,
        **kafka_client_options(),
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def _read_one(
    consumer: AIOKafkaConsumer, topic: str, partition: int, offset: int
) -> ConsumerRecord[Any, Any]:
    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    consumer.seek(tp, offset)
    async with asyncio.timeout(15):
        while True:
            for record in (await consumer.getmany(tp, timeout_ms=500)).get(tp, []):
                if record.offset == offset:
                    return record
                if record.offset > offset:
                    raise LookupError(f"no record at {topic}/{partition}/{offset}")


async def _read_from(
    consumer: AIOKafkaConsumer, starts: dict[TopicPartition, int | None]
) -> Sequence[ConsumerRecord[Any, Any]]:
    """The records from each start (None: the beginning) up to the partitions' current ends."""
    partitions = list(starts)
    if not partitions:
        return []
    consumer.assign(partitions)
    ends = await consumer.end_offsets(partitions)
    beginnings = await consumer.beginning_offsets(partitions)
    for tp, start in starts.items():
        consumer.seek(tp, beginnings[tp] if start is None else start)
    records: list[ConsumerRecord[Any, Any]] = []
    async with asyncio.timeout(60):
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(*partitions, timeout_ms=500)).values():
                records.extend(
                    r for r in batch if r.offset < ends[TopicPartition(r.topic, r.partition)]
                )
    return records
