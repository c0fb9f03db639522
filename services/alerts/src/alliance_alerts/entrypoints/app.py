"""Alerts process: the projection's generations (consumers and clock), the webhook delivery
(its consumer, its loop, its API) inside a FastAPI app (health)."""

from __future__ import annotations

from fastapi import FastAPI
from faststream import FastStream

from alliance_alerts.adapters.delivery_tables import DELIVERY_SCHEMA
from alliance_alerts.adapters.tables import PROJECTION_VERSION, READ_MODELS, SCHEMA, TABLES
from alliance_alerts.entrypoints.consumers import (
    DESCRIPTION,
    INPUTS,
    SERVICE,
    build_consumers,
    subscribe_deliveries,
)
from alliance_alerts.entrypoints.loops import Clock, delivery_step, every
from alliance_alerts.entrypoints.webhook_api import webhook_router
from alliance_alerts.migrations import ENVIRONMENT as DELIVERY_MIGRATIONS
from alliance_alerts.settings import AlertsSettings
from alliance_contracts.timing import utc_now
from alliance_platform.broker import create_broker
from alliance_platform.projector import ProjectionSpec, documentation_runtime
from alliance_platform.runtime import Runtime, asyncapi_spec, projection_service_app
from alliance_platform.tokens import TokenVerifier


def projection(settings: AlertsSettings, clock: Clock = utc_now) -> ProjectionSpec:
    return ProjectionSpec(
        name=SCHEMA,
        version=PROJECTION_VERSION,
        tables=TABLES,
        read_models=[t.name for t in READ_MODELS],
        topics=[topic.name for topic in INPUTS],
        build=lambda runtime: build_consumers(settings, runtime, clock),
    )


def create_app(settings: AlertsSettings | None = None, clock: Clock = utc_now) -> FastAPI:
    settings = settings or AlertsSettings()
    runtime = Runtime()
    broker = create_broker(settings, SERVICE)
    subscribe_deliveries(broker, settings, runtime, clock)
    return projection_service_app(
        service=SERVICE,
        description=DESCRIPTION,
        settings=settings,
        projection=projection(settings, clock),
        runtime=runtime,
        outbox_schema=DELIVERY_SCHEMA,
        broker=broker,
        background=[
            every(
                settings.tick_seconds, "webhook delivery", delivery_step(settings, runtime, clock)
            )
        ],
        migrated=[DELIVERY_MIGRATIONS],
        routers=[webhook_router(settings, runtime, clock)],
        authenticate=TokenVerifier(settings.tokens()).person,
    )


def asyncapi() -> FastStream:
    """Source of the AsyncAPI document (see `tools/contracts.py`): a generation's consumers and
    the service's own."""
    settings = AlertsSettings()
    broker = build_consumers(settings, documentation_runtime(SCHEMA)).broker
    subscribe_deliveries(broker, settings, Runtime())
    return FastStream(broker, specification=asyncapi_spec(SERVICE, DESCRIPTION))
