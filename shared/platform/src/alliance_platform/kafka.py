"""Kafka plumbing on aiokafka: the idempotent producer, the partition it puts a key in, and record
headers."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.partitioner import murmur2

from alliance_contracts.events import EventEnvelope

# The broker's default `message.max.bytes`: the largest record batch it accepts.
DEFAULT_MESSAGE_MAX_BYTES = 1_048_588


def create_producer(
    bootstrap_servers: str, client_id: str, *, max_request_size: int = 1_048_576
) -> AIOKafkaProducer:
    # Idempotent (no duplicates on retry, order kept per partition) and acks=all.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
        max_request_size=max_request_size,
    )


@functools.lru_cache(maxsize=1 << 16)
def _hash_of(key: bytes) -> int:
    """murmur2 (pure Python in aiokafka) once per key: a key (a case) comes back often."""
    return int(murmur2(key)) & 0x7FFFFFFF


def partition_of(key: bytes, partitions: Sequence[int]) -> int:
    """The partition `send` picks for a key: the default partitioner of `create_producer`'s
    producers (aiokafka's `DefaultPartitioner`), over the topic's partitions in order."""
    return partitions[_hash_of(key) % len(partitions)]


def event_headers(event: EventEnvelope) -> list[tuple[str, bytes]]:
    return [
        ("content-type", b"application/json"),
        ("event_type", event.event_type.encode()),
        ("schema_version", str(event.schema_version).encode()),
        ("clinic_id", event.clinic_id.encode()),
    ]


async def kafka_reachable(bootstrap_servers: str) -> bool:
    """True when the cluster answers a metadata request within 3 s (used by `/readyz`)."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=2000)
    try:
        async with asyncio.timeout(3):
            await client.bootstrap()
        return True
    except Exception:
        return False
    finally:
        await client.close()
