"""Scoring process: FastStream batch consumer of responses inside a FastAPI app (health)."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
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
from alliance_platform.config_store import ConfigurationStamps
from alliance_platform.consumer import BatchPipeline, documented_as
from alliance_platform.dead_letters import DeadLetters
from alliance_platform.runtime import Runtime, asyncapi_spec, consumer_service_app
from alliance_platform.tracking import Consumed
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


def build_broker(
    settings: ScoringSettings, runtime: Runtime, pipelines: list[BatchPipeline[Any]] | None = None
) -> KafkaBroker:
    """`pipelines` receives the batch pipelines (their `upkeep` loops run with the service)."""
    broker = create_broker(settings, SERVICE)
    dead_letters = DeadLetters(broker, SERVICE, settings.kafka_message_max_bytes)

    def pool() -> asyncpg.Pool:
        return runtime.require()[0]

    async def process(consumed: Consumed[CaseInput]) -> None:
        uow = PostgresScoringUnitOfWork(pool(), consumed)
        if await project_batch(uow, consumed.events, utc_now):
            runtime.require()[1].wake()

    # Responses stamped with a configuration version not consumed yet are parked until it is.
    responses: BatchPipeline[CaseInput] = BatchPipeline(
        TypeAdapter(CaseInput),
        process,
        dead_letters,
        tracking=settings.tracking(pool, SCHEMA, RESPONSES.name, ConfigurationStamps()),
    )

    async def process_configurations(consumed: Consumed[ClinicInput]) -> None:
        await record_configurations(PostgresScoringUnitOfWork(pool(), consumed), consumed.events)
        responses.wake_parked()  # a version parked responses wait for may have come

    configurations: BatchPipeline[ClinicInput] = BatchPipeline(
        TypeAdapter(ClinicInput),
        process_configurations,
        dead_letters,
        tracking=settings.tracking(pool, SCHEMA, CONFIG.name),
    )

    # A group of its own: this subscriber's offsets are committed independently.
    @batch_subscriber(broker, CONFIG, group_id=f"{GROUP}-config", tracking=configurations.tracking)
    async def on_configuration(
        batch: list[Annotated[bytes, documented_as(ClinicConfigured, StaffChanged, CaseAssigned)]],
        msg: KafkaMessage,
    ) -> None:
        await configurations.handle(msg)

    @batch_subscriber(
        broker,
        RESPONSES,
        group_id=GROUP,
        max_records=settings.batch_max_records,
        tracking=responses.tracking,
    )
    async def on_responses(
        batch: list[Annotated[bytes, documented_as(ResponseSubmitted, EpisodeEnded)]],
        msg: KafkaMessage,
    ) -> None:
        await responses.handle(msg)

    if pipelines is not None:
        pipelines.extend([responses, configurations])
    # Documents what the outbox relay publishes (the relay sends it; nothing publishes here).
    broker.publisher(SCORED.name, schema=ScoringOutput, description=SCORED.description)
    return broker


def create_app(settings: ScoringSettings | None = None) -> FastAPI:
    settings = settings or ScoringSettings()
    runtime = Runtime()
    pipelines: list[BatchPipeline[Any]] = []
    broker = build_broker(settings, runtime, pipelines)
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
        background=[p.upkeep for p in pipelines],
    )


def asyncapi() -> FastStream:
    """Source of the AsyncAPI document (see `scripts/contracts.py`)."""
    return FastStream(
        build_broker(ScoringSettings(), Runtime()),
        specification=asyncapi_spec(SERVICE, DESCRIPTION),
    )
