"""Batch consumption with exactly-once effects on PostgreSQL.

One FastStream batch = one call of `process` (one PostgreSQL transaction that records the
processed event ids with the projection changes). The Kafka offsets are committed only after
that commit (`AckPolicy.MANUAL`). Errors are classified:

- unreadable or invalid messages (poison) go to the dead-letter topic with the reason in
  headers, and the pipeline goes on;
- transient failures (PostgreSQL or Kafka unavailable) back off, then the batch is rewound
  (`nack`) and redelivered;
- any other failure of a batch is retried one event at a time, so a single bad event is
  dead-lettered and the rest are kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from pydantic import BaseModel, TypeAdapter, ValidationError, WithJsonSchema

from alliance_contracts.instruments import RuleBroken
from alliance_contracts.topics import DEAD_LETTER

log = logging.getLogger(__name__)

E = TypeVar("E")


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


@dataclass(frozen=True)
class DeadLetters:
    broker: KafkaBroker
    service: str

    async def send(self, record: ConsumerRecord[Any, Any], reason: str) -> None:
        headers = {
            **{k: v.decode(errors="replace") for k, v in record.headers or ()},
            "dlq_reason": reason[:1000],
            "dlq_service": self.service,
            "dlq_source": f"{record.topic}/{record.partition}/{record.offset}",
        }
        await self.broker.publish(
            record.value or b"", DEAD_LETTER.name, key=record.key, headers=headers
        )
        log.warning(
            "dead-lettered a message",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "reason": reason[:200],
            },
        )


class BatchPipeline(Generic[E]):
    def __init__(
        self,
        adapter: TypeAdapter[E],
        process: Callable[[Sequence[E]], Awaitable[None]],
        dead_letters: DeadLetters,
        *,
        max_backoff: float = 30.0,
    ) -> None:
        self.adapter = adapter
        self.process = process
        self.dead_letters = dead_letters
        self.max_backoff = max_backoff
        self.failures = 0
        self.processed = 0

    async def handle(self, msg: KafkaMessage) -> None:
        records: tuple[ConsumerRecord[Any, Any], ...] = msg.raw_message
        try:
            good: list[tuple[ConsumerRecord[Any, Any], E]] = []
            for record in records:
                try:
                    good.append((record, self.adapter.validate_json(record.value or b"")))
                except ValidationError as exc:
                    await self.dead_letters.send(record, f"invalid event: {_summary(exc)}")
            await self._process(good)
        except TRANSIENT_ERRORS as exc:
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
        await msg.ack()

    async def _process(self, good: list[tuple[ConsumerRecord[Any, Any], E]]) -> None:
        if not good:
            return
        try:
            await self.process([event for _, event in good])
        except TRANSIENT_ERRORS:
            raise
        except Exception:
            log.exception("batch failed; retrying its events one at a time")
            for record, event in good:
                try:
                    await self.process([event])
                except TRANSIENT_ERRORS:
                    raise
                except Exception as exc:
                    await self.dead_letters.send(record, f"processing failed: {_reason(exc)}")


def _reason(exc: Exception) -> str:
    """A rule's message, or only the error's type: other messages may quote data."""
    return f"{type(exc).__name__}: {exc}" if isinstance(exc, RuleBroken) else type(exc).__name__


def _summary(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]
    )
