"""Scoring process: FastStream batch consumer of responses inside a FastAPI app (health)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import FastAPI
from faststream import FastStream
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import TypeAdapter

from alliance_contracts.events import (
    CaseAssigned,
    CaseInput,
    ClinicConfigured,
    ClinicInput,
    EpisodeEnded,
    ResponseSubmitted,
    ScoringOutput,
    StaffChanged,
)
from alliance_contracts.timing import utc_now
from alliance_contracts.topics import CONFIG, RESPONSES, SCORED
from alliance_platform.broker import batch_subscriber, create_broker
from alliance_platform.consumer import BatchPipeline, DeadLetters, documented_as
from alliance_platform.runtime import Runtime, asyncapi_spec, consumer_service_app
from alliance_scoring.adapters.tables import (
    PROJECTION_VERSION,
    READ_MODELS,
    SCHEMA,
    TABLES,
)
from alliance_scoring.adapters.unit_of_work import PostgresScoringUnitOfWork
from alliance_scoring.application.project import project_batch, record_configurations
from alliance_scoring.settings import ScoringSettings

SERVICE = "scoring"
# Named after the projection version: a new version is a new group that replays from the start.
GROUP = f"{SERVICE}-v{PROJECTION_VERSION}"
DESCRIPTION = (
    "Consumes questionnaire responses, scores them and keeps the dyad projections in PostgreSQL "
    "(one transaction per batch, offsets committed after it); publishes scored responses."
)


def build_broker(settings: ScoringSettings, runtime: Runtime) -> KafkaBroker:
    broker = create_broker(settings, SERVICE)

    async def process(events: Sequence[CaseInput]) -> None:
        pool, relay = runtime.require()
        if await project_batch(PostgresScoringUnitOfWork(pool), events, utc_now):
            relay.wake()

    async def process_configurations(events: Sequence[ClinicInput]) -> None:
        await record_configurations(PostgresScoringUnitOfWork(runtime.require()[0]), events)

    config_pipeline: BatchPipeline[ClinicInput] = BatchPipeline(
        TypeAdapter(ClinicInput), process_configurations, DeadLetters(broker, SERVICE)
    )

    # A group of its own: this subscriber's offsets are committed independently.
    @batch_subscriber(broker, CONFIG, group_id=f"{GROUP}-config")
    async def on_configuration(
        batch: list[Annotated[bytes, documented_as(ClinicConfigured, StaffChanged, CaseAssigned)]],
        msg: KafkaMessage,
    ) -> None:
        await config_pipeline.handle(msg)

    pipeline: BatchPipeline[CaseInput] = BatchPipeline(
        TypeAdapter(CaseInput), process, DeadLetters(broker, SERVICE)
    )

    @batch_subscriber(
        broker,
        RESPONSES,
        group_id=GROUP,
        max_records=settings.batch_max_records,
    )
    async def on_responses(
        batch: list[Annotated[bytes, documented_as(ResponseSubmitted, EpisodeEnded)]],
        msg: KafkaMessage,
    ) -> None:
        await pipeline.handle(msg)

    # Documents what the outbox relay publishes (the relay sends it; nothing publishes here).
    broker.publisher(SCORED.name, schema=ScoringOutput, description=SCORED.description)
    return broker


def create_app(settings: ScoringSettings | None = None) -> FastAPI:
    settings = settings or ScoringSettings()
    runtime = Runtime()
    broker = build_broker(settings, runtime)
    return consumer_service_app(
        service=SERVICE,
        description=DESCRIPTION,
        settings=settings,
        schema=SCHEMA,
        tables=TABLES,
        read_models=READ_MODELS,
        projection_version=PROJECTION_VERSION,
        broker=broker,
        runtime=runtime,
    )


def asyncapi() -> FastStream:
    """Source of the AsyncAPI document (see `scripts/contracts.py`)."""
    return FastStream(
        build_broker(ScoringSettings(), Runtime()),
        specification=asyncapi_spec(SERVICE, DESCRIPTION),
    )
