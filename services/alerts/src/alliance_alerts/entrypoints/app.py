"""Alerts process: FastStream batch consumer of scored responses inside a FastAPI app."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import FastAPI
from faststream import FastStream
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import TypeAdapter

from alliance_alerts.adapters.tables import PROJECTION_VERSION, SCHEMA, TABLES
from alliance_alerts.application.raise_alerts import raise_alerts
from alliance_alerts.settings import AlertsSettings
from alliance_shared.broker import batch_subscriber, create_broker
from alliance_shared.consumer import BatchPipeline, DeadLetters, documented_as
from alliance_shared.events import AlertRaised, ClinicalSignal, ResponseScored, ScoringOutput
from alliance_shared.runtime import Runtime, asyncapi_spec, consumer_service_app
from alliance_shared.topics import NOTICES, SCORED

SERVICE = "alerts"
# Named after the projection version: a new version is a new group that replays from the start.
GROUP = f"{SERVICE}-v{PROJECTION_VERSION}"
DESCRIPTION = (
    "Applies the alert rules to scored responses, keeps alert state in PostgreSQL (one open "
    "alert per kind per dyad) and publishes notices."
)


def build_broker(settings: AlertsSettings, runtime: Runtime) -> KafkaBroker:
    broker = create_broker(settings, SERVICE)
    config = settings.alert_config()

    async def process(events: Sequence[ScoringOutput]) -> None:
        pool, relay = runtime.require()
        if await raise_alerts(pool, events, config):
            relay.wake()

    pipeline: BatchPipeline[ScoringOutput] = BatchPipeline(
        TypeAdapter(ScoringOutput), process, DeadLetters(broker, SERVICE)
    )

    @batch_subscriber(broker, SCORED, group_id=GROUP)
    async def on_scored(
        batch: list[Annotated[bytes, documented_as(ResponseScored, ClinicalSignal)]],
        msg: KafkaMessage,
    ) -> None:
        await pipeline.handle(msg)

    # Documents what the outbox relay publishes (the relay sends it; nothing publishes here).
    broker.publisher(NOTICES.name, schema=AlertRaised, description=NOTICES.description)
    return broker


def create_app(settings: AlertsSettings | None = None) -> FastAPI:
    settings = settings or AlertsSettings()
    runtime = Runtime()
    broker = build_broker(settings, runtime)
    return consumer_service_app(
        service=SERVICE,
        description=DESCRIPTION,
        settings=settings,
        schema=SCHEMA,
        tables=TABLES,
        projection_version=PROJECTION_VERSION,
        broker=broker,
        runtime=runtime,
    )


def asyncapi() -> FastStream:
    """Source of the AsyncAPI document (see `scripts/contracts.py`)."""
    return FastStream(
        build_broker(AlertsSettings(), Runtime()), specification=asyncapi_spec(SERVICE, DESCRIPTION)
    )
