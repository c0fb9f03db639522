"""FastStream Kafka broker and batch subscribers configured the one safe way."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import BatchSubscriber

from alliance_contracts.topics import TopicSpec
from alliance_platform.consumer import raw_batch_decoder
from alliance_platform.kafka import kafka_security
from alliance_platform.settings import CommonSettings
from alliance_platform.tracking import SeekToStoredPositions, Tracking, has_work_or_none_to_have


def create_broker(settings: CommonSettings, service: str) -> KafkaBroker:
    return KafkaBroker(
        # A list: FastStream hands a string to aiokafka as one host, commas and all.
        settings.kafka_bootstrap_servers.split(","),
        client_id=service,
        # Topics are provisioned explicitly; a subscriber must never create one (FastStream
        # 0.7 would create it with 1 partition).
        allow_auto_create_topics=False,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=15000,
        graceful_timeout=15.0,
        security=kafka_security().broker_security(),
        description=f"Alliance {service} service",
        # Per-message "Received/Processed" lines at DEBUG; our JSON handler formats the rest.
        logger=logging.getLogger(f"alliance.{service}.broker"),
        log_level=logging.DEBUG,
    )


def batch_subscriber(
    broker: KafkaBroker,
    topic: TopicSpec,
    group_id: str,
    *,
    max_records: int = 500,
    description: str = "",
    tracking: Tracking | None = None,
) -> Callable[[Callable[..., Awaitable[Any]]], BatchSubscriber]:
    """A consumer-group batch subscriber that reads from the earliest offset and commits only
    when told (`AckPolicy.MANUAL`: after the PostgreSQL transaction). With `tracking`, it seeks
    to the positions stored in PostgreSQL when partitions are assigned."""
    seek = SeekToStoredPositions(tracking) if tracking is not None else None
    subscriber = broker.subscriber(
        topic.name,
        group_id=group_id,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=100,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=raw_batch_decoder,
        max_poll_interval_ms=300_000,
        description=description or topic.description,
        listener=seek,
    )
    if seek is not None:
        seek.subscriber, seek.topics = subscriber, (topic.name,)
        _TRACKED.setdefault(broker, []).append(seek)
    _SUBSCRIPTIONS.setdefault(broker, []).append(Subscription(group_id, topic.name, tracking))
    return subscriber  # type: ignore[return-value]


@dataclass(frozen=True)
class Subscription:
    """A consumer group's subscription to a topic; with `tracking`, its positions are the ones
    stored in PostgreSQL, otherwise the group's offsets committed in Kafka."""

    group: str
    topic: str
    tracking: Tracking | None


_SUBSCRIPTIONS: weakref.WeakKeyDictionary[KafkaBroker, list[Subscription]] = (
    weakref.WeakKeyDictionary()
)


def subscriptions(broker: KafkaBroker) -> list[Subscription]:
    """The broker's batch subscriptions (for the consumer lag metrics)."""
    return list(_SUBSCRIPTIONS.get(broker, ()))


# Each broker's tracked subscribers' listeners (what they were assigned), for readiness.
_TRACKED: weakref.WeakKeyDictionary[KafkaBroker, list[SeekToStoredPositions]] = (
    weakref.WeakKeyDictionary()
)


def consuming(broker: KafkaBroker) -> bool:
    """Every tracked subscriber of the broker has work, or none to have
    (`tracking.has_work_or_none_to_have`): part of a consumer service's readiness."""
    return all(has_work_or_none_to_have(seek) for seek in _TRACKED.get(broker, ()))
