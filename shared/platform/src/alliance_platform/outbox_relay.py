"""The outbox relay: publishes a service's outbox rows to Kafka, then deletes them.

Rows go out in id order with an idempotent producer, so the rows of one key (one partition)
arrive in the order they were written. A row that Kafka can never take (larger than the broker's
`message.max.bytes`, or refused for a reason that lies in the row itself) is moved to
`outbox_parked` with its reason, in the transaction that deletes the published rows: it leaves
a gap in its key's sequence, like a dead letter, and never blocks the rows behind it. Anything
else (Kafka down, a leader moving, a timeout) is retried with a backoff and parks nothing.
See decision 0013 (docs/decisions/) and docs/operations.md ("Parked outbox rows").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from alliance_platform import tracing
from alliance_platform.kafka import DEFAULT_MESSAGE_MAX_BYTES, create_producer, partition_of
from alliance_platform.metrics import (
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PARKED,
    OUTBOX_PUBLISHED,
)
from alliance_platform.outbox import Connection, OutboxStatus, outbox_status

log = logging.getLogger(__name__)

# Refusals caused by the record itself: sending it again fails the same way. Every other error
# (retriable ones, and those about the cluster, its message format or our credentials, which
# would refuse every row alike) is waited out instead of parking rows that are not at fault.
ROW_FAULTS: tuple[type[KafkaError], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
)
SEND_TIMEOUT_S = 30.0
# The two-key form: a lock space of its own, apart from the one-key locks the services take.
RELAY_LOCK = "SELECT pg_try_advisory_xact_lock(hashtext('outbox-relay'), hashtext($1))"


@functools.lru_cache(maxsize=1024)
def _headers(stored: str) -> tuple[tuple[str, bytes], ...]:
    """A row's headers as the producer takes them; a few combinations recur (event type,
    clinic)."""
    return tuple((k, v.encode()) for k, v in json.loads(stored).items())


def is_row_fault(error: BaseException) -> bool:
    """True when Kafka refused a record for what it is, not for the state of the cluster."""
    return isinstance(error, ROW_FAULTS) and not getattr(error, "retriable", False)


def record_size(key: bytes, value: bytes, headers: Sequence[tuple[str, bytes]]) -> int:
    """The record's size as the broker measures it against `message.max.bytes` (an upper bound:
    a record batch of this one record, with its overhead)."""
    return int(DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, list(headers)))


@dataclass(frozen=True)
class _Row:
    id: int
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]

    @classmethod
    def of(cls, record: asyncpg.Record) -> _Row:
        headers = list(_headers(record["headers"]))
        return cls(record["id"], record["topic"], record["key"].encode(), record["value"], headers)


@dataclass
class _Batch:
    """A record batch for one partition, with the rows in it."""

    topic: str
    partition: int
    records: BatchBuilder
    rows: list[_Row] = field(default_factory=list)

    def add(self, row: _Row) -> bool:
        """False when the batch is full."""
        added = self.records.append(
            key=row.key, value=row.value, timestamp=None, headers=row.headers
        )
        if added is not None:
            self.rows.append(row)
        return added is not None


class RelayStalled(Exception):
    """Some rows could not be published for a passing reason; they stay for the next round."""

    def __init__(self, cause: BaseException | None) -> None:
        super().__init__(type(cause).__name__ if cause else "timeout")
        self.cause = cause


class OutboxRelay:
    """Publishes outbox rows in id order with an idempotent producer, then deletes them; parks
    the rows Kafka can never take.

    Keeps running while Kafka is down (backing off) and catches up when it returns.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        bootstrap_servers: str,
        client_id: str,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        max_message_bytes: int = DEFAULT_MESSAGE_MAX_BYTES,
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_message_bytes = max_message_bytes
        self.parked_total = 0  # rows parked by this process (the table holds them all)
        self.producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Call after a commit that enqueued messages, to publish them without waiting a poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.schema}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._drop_producer()

    @property
    def kafka_up(self) -> bool:
        return self.producer is not None

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self.producer is None:
            # A failed start leaves a producer unusable: build a fresh one each attempt.
            producer = create_producer(
                self.bootstrap_servers, self.client_id, max_request_size=self.max_message_bytes
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self.producer = producer
        return self.producer

    async def _drop_producer(self) -> None:
        # Sends may be half done; the rows not known to be published stay and are re-sent by a
        # fresh producer. Consumers de-duplicate by event id.
        producer, self.producer = self.producer, None
        if producer is not None:
            try:
                async with asyncio.timeout(5):
                    await producer.stop()
            except Exception:
                log.warning("outbox producer did not stop cleanly", extra={"schema": self.schema})

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                published = await self.publish_pending()
                failures = 0
                if published:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Kafka or PostgreSQL unavailable: back off, keep going
                failures += 1
                delay = min(30.0, 0.5 * 2 ** min(failures, 6))
                cause = exc.cause if isinstance(exc, RelayStalled) else exc
                log.warning(
                    "outbox relay cannot publish, retrying",
                    extra={
                        "schema": self.schema,
                        "error": type(cause).__name__,
                        "retry_in_s": delay,
                    },
                )
                await self._drop_producer()
                await asyncio.sleep(delay)
                continue
            self._wake.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that arrives as the wake-up does, and the relay would then never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()

    async def publish_pending(self) -> int:
        """One round: the oldest `batch_size` rows, sent pipelined. Returns how many rows left
        the outbox (published or parked); raises RelayStalled, after committing what was
        published, when some rows must wait for Kafka."""
        async with self.pool.acquire() as conn, conn.transaction():
            # One relay at a time per outbox (several worker processes each run one): rows
            # taken past another's locked ones could overtake them on their key. The other
            # relays find nothing to do; the one publishing goes on while rows keep coming.
            if not await conn.fetchval(RELAY_LOCK, self.schema):
                return 0
            records = await conn.fetch(
                f"SELECT id, topic, key, value, headers FROM {self.schema}.outbox "
                "ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self.batch_size,
            )
            if not records:
                return 0
            rows = [_Row.of(r) for r in records]
            parked: dict[int, str] = {}
            sendable: list[_Row] = []
            for row in rows:
                size = record_size(row.key, row.value, row.headers)
                if size > self.max_message_bytes:
                    limit = self.max_message_bytes
                    parked[row.id] = f"record of {size} bytes over message.max.bytes ({limit})"
                else:
                    sendable.append(row)
            with tracing.publishing(sendable):  # a span per row that carries a trace
                published, refused, stalled = await self._send(sendable)
            if refused:
                # A refused record fails its whole producer batch, and the producer's sequence
                # for that partition is spent: each is tried alone, on a fresh producer.
                await self._drop_producer()
                more, parked_alone, stalled_alone = await self._send_alone(refused)
                published += more
                parked.update(parked_alone)
                stalled = stalled or stalled_alone
            if parked:  # moved before the delete, in the same transaction
                await self._park(conn, parked)
            await conn.execute(
                f"DELETE FROM {self.schema}.outbox WHERE id = ANY($1::bigint[])",
                [*published, *parked],
            )
        OUTBOX_PUBLISHED.labels(self.schema).inc(len(published))
        if stalled is not None:
            raise stalled
        return len(published) + len(parked)

    async def _send(
        self, rows: Sequence[_Row]
    ) -> tuple[list[int], list[tuple[_Row, BaseException]], RelayStalled | None]:
        """Sends pipelined, one record batch per partition at a time (`create_batch`,
        `send_batch`: per record, only the batch's append runs, not the producer's whole `send`);
        returns the ids published, the rows refused for what they are, and why the rest must
        wait (None: nothing must)."""
        if not rows:
            return [], [], None
        producer = await self._ensure_producer()
        refused: list[tuple[_Row, BaseException]] = []
        sends: dict[asyncio.Future[object], list[_Row]] = {}
        stalled: RelayStalled | None = None
        try:
            partitioned = await self._partitioned(producer, rows, refused)
            # In waves, each partition's first batch, then its second...: a wave goes out in one
            # request (a partition's next batch waits until its previous one is taken). Each
            # partition's batches in the rows' order: the key's order is kept.
            for wave in itertools.zip_longest(*partitioned.values()):
                for batch in filter(None, wave):
                    sent = await producer.send_batch(
                        batch.records, batch.topic, partition=batch.partition
                    )
                    sends[sent] = batch.rows
        except KafkaError as exc:  # e.g. no metadata: the batches not sent wait
            stalled = RelayStalled(exc)
        done: set[asyncio.Future[object]] = set()
        waiting: set[asyncio.Future[object]] = set()
        if sends:
            done, waiting = await asyncio.wait(sends, timeout=SEND_TIMEOUT_S)
        published: list[int] = []
        for future in done:
            error = future.exception()
            if error is None:
                published.extend(row.id for row in sends[future])
            elif is_row_fault(error):
                refused.extend((row, error) for row in sends[future])
            else:
                stalled = stalled or RelayStalled(error)
        if waiting:
            stalled = stalled or RelayStalled(None)
        refused.sort(key=lambda r: r[0].id)
        return published, refused, stalled

    @staticmethod
    async def _partitioned(
        producer: AIOKafkaProducer,
        rows: Sequence[_Row],
        refused: list[tuple[_Row, BaseException]],
    ) -> dict[tuple[str, int], list[_Batch]]:
        """The rows in record batches per partition, in their order. The partition is the one
        `send` picks (the producer's default partitioner: murmur2 of the key). A topic Kafka
        refuses for what it is (an invalid name) refuses its rows."""
        partitions: dict[str, list[int]] = {}
        faults: dict[str, KafkaError] = {}  # topics refused for what they are
        batches: dict[tuple[str, int], list[_Batch]] = {}
        for row in rows:
            if row.topic not in partitions and row.topic not in faults:
                try:
                    partitions[row.topic] = sorted(await producer.partitions_for(row.topic))
                except KafkaError as exc:
                    if not is_row_fault(exc):
                        raise
                    faults[row.topic] = exc
            if row.topic in faults:
                refused.append((row, faults[row.topic]))
                continue
            partition = partition_of(row.key, partitions[row.topic])
            of_partition = batches.setdefault((row.topic, partition), [])
            if not of_partition or not of_partition[-1].add(row):
                of_partition.append(_Batch(row.topic, partition, producer.create_batch()))
                of_partition[-1].add(row)  # a batch takes its first record, whatever its size
        return batches

    async def _send_alone(
        self, refused: Sequence[tuple[_Row, BaseException]]
    ) -> tuple[list[int], dict[int, str], RelayStalled | None]:
        published: list[int] = []
        parked: dict[int, str] = {}
        for row, _ in refused:
            try:
                producer = await self._ensure_producer()
                async with asyncio.timeout(SEND_TIMEOUT_S):
                    await (await producer.send(row.topic, row.value, row.key, headers=row.headers))
            except KafkaError as exc:
                await self._drop_producer()
                if not is_row_fault(exc):
                    return published, parked, RelayStalled(exc)
                parked[row.id] = f"refused by Kafka: {type(exc).__name__}"
            except TimeoutError as exc:
                return published, parked, RelayStalled(exc)
            else:
                published.append(row.id)
        return published, parked, None

    async def _park(self, conn: Connection, parked: dict[int, str]) -> None:
        moved = await conn.fetch(
            f"INSERT INTO {self.schema}.outbox_parked "
            "(id, topic, key, event_id, value, headers, created_at, reason) "
            "SELECT o.id, o.topic, o.key, o.event_id, o.value, o.headers, o.created_at, p.reason "
            f"FROM {self.schema}.outbox o JOIN unnest($1::bigint[], $2::text[]) AS p(id, reason) "
            "USING (id) RETURNING id, topic, event_id, reason",
            list(parked),
            list(parked.values()),
        )
        self.parked_total += len(moved)
        for row in moved:  # ids, topic and reason only: never the body
            log.error(
                "outbox row parked: Kafka cannot take it",
                extra={
                    "schema": self.schema,
                    "outbox_id": row["id"],
                    "topic": row["topic"],
                    "event_id": str(row["event_id"]),
                    "reason": row["reason"],
                },
            )

    async def pending(self) -> int:
        async with self.pool.acquire() as conn:
            return int(await conn.fetchval(f"SELECT count(*) FROM {self.schema}.outbox"))

    async def status(self) -> OutboxStatus:
        async with self.pool.acquire() as conn:
            return await outbox_status(conn, self.schema)

    async def report(self) -> None:
        """Sets the outbox's gauges (the metrics' outbox state, read at scrape time)."""
        status = await self.status()
        OUTBOX_BACKLOG.labels(self.schema).set(status.backlog)
        OUTBOX_OLDEST_AGE.labels(self.schema).set(status.oldest_age_s or 0.0)
        OUTBOX_PARKED.labels(self.schema).set(status.parked)
