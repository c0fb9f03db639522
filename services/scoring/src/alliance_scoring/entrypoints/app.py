"""Scoring process: FastStream batch consumer of responses inside a FastAPI app (health)."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import FastAPI
from faststream import FastStream
from faststream.kafka import KafkaMessage
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
from alliance_platform.projector import (
    Consumers,
    GenerationRuntime,
    ProjectionSpec,
    documentation_runtime,
)
from alliance_platform.runtime import asyncapi_spec, projection_service_app
from alliance_platform.tracking import Consumed
from alliance_scoring.adapters.hot_cases import HotCases
from alliance_scoring.adapters.tables import PROJECTION_VERSION, READ_MODELS, SCHEMA, TABLES
from alliance_scoring.adapters.unit_of_work import PostgresScoringUnitOfWork
from alliance_scoring.application.project import project_batch, record_configurations
from alliance_scoring.settings import ScoringSettings

SERVICE = "scoring"
DESCRIPTION = (
    "Consumes questionnaire responses, scores them and keeps the dyad projections in PostgreSQL "
    "(one transaction per batch, with the consumed positions); publishes scored responses."
)


def build_consumers(settings: ScoringSettings, runtime: GenerationRuntime) -> Consumers:
    """One generation's consumers: responses and the clinics' configuration versions, their
    positions tracked in the generation's slot, its case states committed last in memory."""
    broker = create_broker(settings, SERVICE)
    hot = HotCases(settings.hot_cases)
    dead_letters = DeadLetters(broker, SERVICE, settings.kafka_message_max_bytes)

    def pool() -> asyncpg.Pool:
        return runtime.pool

    def unit_of_work(consumed: Consumed[Any]) -> PostgresScoringUnitOfWork:
        return PostgresScoringUnitOfWork(
            runtime.pool, runtime.schema, consumed, runtime.frontier, hot
        )

    async def process(consumed: Consumed[CaseInput]) -> None:
        if await project_batch(unit_of_work(consumed), consumed.events, utc_now):
            runtime.relay.wake()

    # Responses stamped with a configuration version not consumed yet are parked until it is.
    responses: BatchPipeline[CaseInput] = BatchPipeline(
        TypeAdapter(CaseInput),
        process,
        dead_letters,
        tracking=settings.tracking(
            pool,
            runtime.schema,
            RESPONSES.name,
            ConfigurationStamps(),
            runtime.live_frontier,
            forget=hot.forget,
        ),
    )

    async def process_configurations(consumed: Consumed[ClinicInput]) -> None:
        await record_configurations(unit_of_work(consumed), consumed.events)
        responses.wake_parked()  # a version parked responses wait for may have come

    configurations: BatchPipeline[ClinicInput] = BatchPipeline(
        TypeAdapter(ClinicInput),
        process_configurations,
        dead_letters,
        tracking=settings.tracking(pool, runtime.schema, CONFIG.name, None, runtime.live_frontier),
    )

    # A group of its own: this subscriber's offsets are committed independently.
    @batch_subscriber(
        broker, CONFIG, group_id=f"{runtime.group}-config", tracking=configurations.tracking
    )
    async def on_configuration(
        batch: list[Annotated[bytes, documented_as(ClinicConfigured, StaffChanged, CaseAssigned)]],
        msg: KafkaMessage,
    ) -> None:
        await configurations.handle(msg)

    @batch_subscriber(
        broker,
        RESPONSES,
        group_id=runtime.group,
        max_records=(
            settings.batch_max_records
            if runtime.frontier is None
            else settings.rebuild_batch_max_records
        ),
        tracking=responses.tracking,
    )
    async def on_responses(
        batch: list[Annotated[bytes, documented_as(ResponseSubmitted, EpisodeEnded)]],
        msg: KafkaMessage,
    ) -> None:
        await responses.handle(msg)

    # Documents what the outbox relay publishes (the relay sends it; nothing publishes here).
    broker.publisher(SCORED.name, schema=ScoringOutput, description=SCORED.description)
    return Consumers(broker, loops=[responses.upkeep, configurations.upkeep])


def projection(settings: ScoringSettings) -> ProjectionSpec:
    return ProjectionSpec(
        name=SCHEMA,
        version=PROJECTION_VERSION,
        tables=TABLES,
        read_models=[t.name for t in READ_MODELS],
        topics=[RESPONSES.name, CONFIG.name],
        build=lambda runtime: build_consumers(settings, runtime),
    )


def create_app(settings: ScoringSettings | None = None) -> FastAPI:
    settings = settings or ScoringSettings()
    return projection_service_app(
        service=SERVICE,
        description=DESCRIPTION,
        settings=settings,
        projection=projection(settings),
    )


def asyncapi() -> FastStream:
    """Source of the AsyncAPI document (see `tools/contracts.py`)."""
    return FastStream(
        build_consumers(ScoringSettings(), documentation_runtime(SCHEMA)).broker,
        specification=asyncapi_spec(SERVICE, DESCRIPTION),
    )
