"""Alerts process: the consumers, the background loops and the webhook API inside a FastAPI
app (health)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from faststream import FastStream

from alliance_alerts.adapters.tables import (
    PROJECTION_VERSION,
    READ_MODELS,
    SCHEMA,
    TABLES,
)
from alliance_alerts.entrypoints.consumers import (
    DESCRIPTION,
    GROUP,
    SERVICE,
    Clock,
    build_broker,
    input_groups,
)
from alliance_alerts.entrypoints.loops import delivery_step, escalation_step, every
from alliance_alerts.entrypoints.webhook_api import webhook_router
from alliance_alerts.migrations import ENVIRONMENT as DELIVERY_MIGRATIONS
from alliance_alerts.settings import AlertsSettings
from alliance_contracts.timing import utc_now
from alliance_platform.catchup import CatchUp
from alliance_platform.consumer import BatchPipeline
from alliance_platform.runtime import Runtime, asyncapi_spec, consumer_service_app
from alliance_platform.tokens import TokenVerifier


def create_app(
    settings: AlertsSettings | None = None, clock: Clock = utc_now, group: str = GROUP
) -> FastAPI:
    """`group`: the projection's consumer group (see `build_broker`)."""
    settings = settings or AlertsSettings()
    runtime = Runtime()
    pipelines: list[BatchPipeline[Any]] = []
    broker = build_broker(settings, runtime, clock, pipelines, group)
    catch_up = CatchUp(settings.kafka_bootstrap_servers, input_groups(group), f"{SERVICE}-clock")
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
        background=[
            *(p.upkeep for p in pipelines),
            every(
                settings.tick_seconds,
                "escalation",
                escalation_step(runtime, clock, catch_up),
                stop=catch_up.close,
            ),
            every(
                settings.tick_seconds,
                "webhook delivery",
                delivery_step(settings, runtime, clock),
            ),
        ],
        migrated=[DELIVERY_MIGRATIONS],
        routers=[webhook_router(settings, runtime, clock)],
        authenticate=TokenVerifier(settings.tokens()).person,
    )


def asyncapi() -> FastStream:
    """Source of the AsyncAPI document (see `tools/contracts.py`)."""
    return FastStream(
        build_broker(AlertsSettings(), Runtime()),
        specification=asyncapi_spec(SERVICE, DESCRIPTION),
    )
