"""Kafka plumbing on aiokafka: the idempotent producer and record headers."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.client import AIOKafkaClient

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
