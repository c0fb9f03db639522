"""Batch consumption with exactly-once effects on PostgreSQL.

One FastStream batch = one call of `process`: a use case whose unit of work claims the batch
(`tracking.Consumed`) in its one PostgreSQL transaction with the projection changes; for a
tracked consumer that claim stores the consumed positions and parks waiting records
(`tracking.py`, `parking.py`). Kafka's offsets are committed after that commit
(`AckPolicy.MANUAL`), as a convenience. Errors are classified:

- unreadable or invalid messages (poison) go to the dead-letter topic once, with the reason in
  headers (`dead_letters.py`): the records before one are committed first, and the dead letter
  is acknowledged inside the transaction that moves the position past it;
- transient failures (PostgreSQL or Kafka unavailable) back off, then the batch is rewound
  (`nack`) and redelivered (what is below the stored positions is skipped);
- any other failure of a batch is retried one event at a time, so a single bad event is
  dead-lettered and the rest are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import asyncpg
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from faststream.kafka.message import KafkaMessage
from pydantic import BaseModel, TypeAdapter, ValidationError, WithJsonSchema

from alliance_contracts.instruments import RuleBroken
from alliance_platform import tracing
from alliance_platform.dead_letters import DeadLetters, Source
from alliance_platform.metrics import BATCH_FAILURES, BATCH_RECORDS, BATCH_SECONDS, CONSUMED
from alliance_platform.parking import expired, parked_heads, ready_records
from alliance_platform.tracking import (
    Consumed,
    Delivered,
    Partition,
    Tracking,
    advance,
    consumed_before,
    lock_positions,
    prune_processed,
    stored_positions,
)

log = logging.getLogger(__name__)

E = TypeVar("E")
# How often each consumer deletes the processed-event ids past their retention.
PRUNE_EVERY_S = 600.0
# After a wake-up, how long before parked records are looked at once more.
AFTER_WAKE_S = 1.0


class RetryLater(Exception):
    """Raised by a handler when the batch cannot be processed yet (e.g. it needs an event from
    another topic that has not arrived): the batch is rewound and redelivered after a backoff."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    RetryLater,
    OSError,
    TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    KafkaError,
)


def documented_as(*models: type[BaseModel]) -> WithJsonSchema:
    """For `Annotated[bytes, documented_as(Model, ...)]`: records arrive as raw bytes (validated
    one by one here, so one bad record cannot fail its batch) and AsyncAPI shows them as one of
    the models."""
    schemas = [_inline_refs(m.model_json_schema()) for m in models]
    return WithJsonSchema(schemas[0] if len(schemas) == 1 else {"oneOf": schemas})


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A self-contained copy of a JSON schema: local `$ref`s replaced by their definitions
    (our event models are not recursive), as AsyncAPI embeds it under another document."""
    definitions = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


async def raw_batch_decoder(msg: Any) -> list[bytes]:
    """FastStream decoder that leaves each record's bytes alone."""
    return [record.value or b"" for record in msg.raw_message]


class BatchPipeline(Generic[E]):
    """`process` runs a use case on a unit of work built over the `Consumed` it is given (the
    unit of work claims it: see `tracking.py`). With `tracking`, positions are stored with the
    projection, invalid records are dead-lettered once, waiting records are parked, and
    `upkeep` (a background loop) retries and expires the parked ones and prunes old ids."""

    def __init__(
        self,
        adapter: TypeAdapter[E],
        process: Callable[[Consumed[E]], Awaitable[None]],
        dead_letters: DeadLetters,
        *,
        tracking: Tracking | None = None,
        max_backoff: float = 30.0,
    ) -> None:
        self.adapter = adapter
        self.process = process
        self.dead_letters = dead_letters
        self.tracking = tracking
        self.max_backoff = max_backoff
        self.failures = 0
        self.processed = 0
        self._wake = asyncio.Event()

    async def handle(self, msg: KafkaMessage) -> None:
        records: tuple[ConsumerRecord[Any, Any], ...] = msg.raw_message
        topic = records[0].topic if records else ""
        started = time.perf_counter()
        try:
            skipped = await self._consume([Source.of(r) for r in records])
        except TRANSIENT_ERRORS as exc:
            BATCH_FAILURES.labels(topic).inc()
            self.failures += 1
            delay = min(self.max_backoff, 0.2 * 2 ** min(self.failures, 8))
            log.warning(
                "batch failed transiently; rewinding",
                extra={"error": type(exc).__name__, "retry_in_s": delay},
            )
            await asyncio.sleep(delay)
            await msg.nack()
            return
        self.failures = 0
        self.processed += len(records)
        BATCH_SECONDS.labels(topic).observe(time.perf_counter() - started)
        BATCH_RECORDS.labels(topic).observe(len(records))
        CONSUMED.labels(topic, "processed").inc(len(records) - skipped)
        if skipped:
            CONSUMED.labels(topic, "skipped").inc(skipped)
        await msg.ack()  # a convenience only: the stored positions are what counts

    async def _consume(self, sources: Sequence[Source]) -> int:
        """Returns how many records were skipped (consumed before)."""
        stored: dict[Partition, int] = {}
        if self.tracking is not None:
            stored = await stored_positions(
                self.tracking.pool(), self.tracking.schema, {_partition(s) for s in sources}
            )
        pending: list[Delivered[E]] = []
        seen_before = 0
        for source in sources:
            if source.offset < stored.get(_partition(source), 0):
                seen_before += 1  # consumed before (a rewind or a redelivery)
                continue
            try:
                pending.append(Delivered(source, self.adapter.validate_json(source.value)))
            except ValidationError as exc:
                # What comes before it is committed first, so a later rewind cannot bring the
                # dead letter back.
                await self._apply(pending)
                pending = []
                await self._dead_letter(source, f"invalid event: {_summary(exc)}")
        await self._apply(pending)
        if seen_before:  # none after a clean stop: its last batch and positions were committed
            log.info(
                "skipped records consumed before",
                extra={"skipped": seen_before, "topic": sources[0].topic},
            )
        return seen_before

    async def _apply(self, delivered: Sequence[Delivered[E]]) -> None:
        if not delivered:
            return
        try:
            with tracing.consuming(delivered):  # the batch's span, one per traced record
                await self.process(self._consumed(delivered))
        except TRANSIENT_ERRORS:
            raise
        except Exception:
            log.exception("batch failed; retrying its events one at a time")
            for one in delivered:
                try:
                    await self.process(self._consumed([one]))
                except TRANSIENT_ERRORS:
                    raise
                except Exception as exc:
                    reason = f"processing failed: {_reason(exc)}"
                    await self._dead_letter(one.source, reason, one.parked_id)

    def _consumed(self, delivered: Sequence[Delivered[E]]) -> Consumed[E]:
        ends: dict[Partition, int] = {}
        for d in delivered:
            if d.parked_id is None:
                ends[_partition(d.source)] = d.source.offset + 1
        waits = self.tracking.waits if self.tracking is not None else None
        return Consumed(delivered, ends if self.tracking is not None else {}, waits)

    async def _dead_letter(self, source: Source, reason: str, parked_id: int | None = None) -> None:
        """Sends the dead letter (awaiting Kafka's ack) inside the transaction that moves past
        the record, so a rewind never sends it twice."""
        if self.tracking is None:
            await self.dead_letters.send(source, reason)
            return
        schema = self.tracking.schema
        async with self.tracking.pool().acquire() as conn, conn.transaction():
            if parked_id is not None:
                if await conn.execute(f"DELETE FROM {schema}.parked WHERE id = $1", parked_id) == (
                    "DELETE 0"
                ):
                    return  # another replica took it
            else:
                partition = _partition(source)
                if source.offset < (await lock_positions(conn, schema, [partition]))[partition]:
                    return
                await advance(conn, schema, {partition: source.offset + 1})
                frontier = self.tracking.frontier()
                ends = {partition: source.offset + 1}
                if frontier is not None and await consumed_before(conn, frontier, ends):
                    return  # the live generation dead-lettered it when it met it
            await self.dead_letters.send(source, reason)

    def wake_parked(self) -> None:
        """Call when something parked records may wait for has arrived."""
        self._wake.set()

    async def upkeep(self) -> None:
        """Runs with the service: retries the parked records whose wait is over, dead-letters
        those that waited too long, prunes the processed-event ids past their retention."""
        tracking = self.tracking
        if tracking is None:
            return
        pruned_at = -math.inf
        woken = False
        while True:
            # Cleared before the work, so that a wake-up during it is not lost.
            self._wake.clear()
            try:
                if tracking.waits is not None:
                    while await self.retry_parked():
                        pass
                    if woken:
                        # What was woken for was committed; a batch that parked records while
                        # it was (not seeing it yet) commits just after: look once more then.
                        await asyncio.sleep(AFTER_WAKE_S)
                        while await self.retry_parked():
                            pass
                    await self.expire_parked()
                if time.monotonic() - pruned_at > PRUNE_EVERY_S:
                    await prune_processed(tracking.pool(), tracking.schema, tracking.retention)
                    pruned_at = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer upkeep failed", extra={"error": type(exc).__name__})
            woken = False
            # asyncio.timeout, not wait_for: see OutboxRelay._run.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(tracking.check_every_s):
                    await self._wake.wait()
                    woken = True

    async def retry_parked(self) -> int:
        """Folds the parked records that may go now, in order, in a transaction of their own."""
        tracking = self.tracking
        assert tracking is not None
        assert tracking.waits is not None
        async with tracking.pool().acquire() as conn:
            ready = await ready_records(conn, tracking.schema, tracking.topic, tracking.waits)
        delivered: list[Delivered[E]] = []
        for parked in ready:
            try:
                event = self.adapter.validate_json(parked.source.value)
            except ValidationError as exc:
                await self._dead_letter(parked.source, f"invalid event: {_summary(exc)}", parked.id)
                continue
            delivered.append(Delivered(parked.source, event, parked.id))
        await self._apply(delivered)
        return len(ready)

    async def expire_parked(self) -> None:
        tracking = self.tracking
        assert tracking is not None
        async with tracking.pool().acquire() as conn:
            heads = await parked_heads(conn, tracking.schema, tracking.topic)
            now = await conn.fetchval("SELECT now()")
        for parked in expired(heads, now, tracking.park_timeout):
            reason = f"parked too long: waiting for {parked.waiting_for} ({parked.reason})"
            await self._dead_letter(parked.source, reason, parked.id)


def _partition(source: Source) -> Partition:
    return (source.topic, source.partition)


def _reason(exc: Exception) -> str:
    """A rule's message, or only the error's type: other messages may quote data."""
    return f"{type(exc).__name__}: {exc}" if isinstance(exc, RuleBroken) else type(exc).__name__


def _summary(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]
    )
