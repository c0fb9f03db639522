"""Alerts process: FastStream batch consumers (scoring's events, clinic events, users'
commands) and the escalation clock, inside a FastAPI app (health)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import FastAPI
from faststream import FastStream
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import TypeAdapter

from alliance_alerts.adapters.tables import PROJECTION_VERSION, SCHEMA, TABLES
from alliance_alerts.application.handlers import (
    apply_clinic_events,
    apply_commands,
    apply_scoring,
    escalate_due,
)
from alliance_alerts.settings import AlertsSettings
from alliance_shared.broker import batch_subscriber, create_broker
from alliance_shared.consumer import BatchPipeline, DeadLetters, documented_as
from alliance_shared.events import (
    AlertCommand,
    AlertNotice,
    CaseAssigned,
    ClinicalSignal,
    ClinicConfigured,
    ClinicInput,
    ResponseScored,
    ScoringOutput,
    StaffChanged,
)
from alliance_shared.runtime import Runtime, asyncapi_spec, consumer_service_app
from alliance_shared.topics import COMMANDS, CONFIG, NOTICES, SCORED

log = logging.getLogger(__name__)
SERVICE = "alerts"
# Named after the projection version: a new version is a new group that replays from the start.
GROUP = f"{SERVICE}-v{PROJECTION_VERSION}"
DESCRIPTION = (
    "Turns scoring's derived events into alerts with a lifecycle (open, acknowledged, resolved; "
    "snooze; escalation to supervisors), routes them to the case's therapist and publishes a "
    "notice for every transition."
)
E = TypeVar("E")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_broker(settings: AlertsSettings, runtime: Runtime) -> KafkaBroker:
    broker = create_broker(settings, SERVICE)
    dead_letters = DeadLetters(broker, SERVICE)

    def pipeline(
        adapter: Any, handler: Callable[[Any, Sequence[E]], Awaitable[int]]
    ) -> BatchPipeline[E]:
        async def process(events: Sequence[E]) -> None:
            pool, relay = runtime.require()
            if await handler(pool, events):
                relay.wake()

        return BatchPipeline(TypeAdapter(adapter), process, dead_letters)

    scoring = pipeline(ScoringOutput, apply_scoring)
    clinic = pipeline(ClinicInput, apply_clinic_events)
    commands = pipeline(AlertCommand, apply_commands)

    @batch_subscriber(broker, SCORED, group_id=GROUP)
    async def on_scored(
        batch: list[Annotated[bytes, documented_as(ResponseScored, ClinicalSignal)]],
        msg: KafkaMessage,
    ) -> None:
        await scoring.handle(msg)

    @batch_subscriber(broker, CONFIG, group_id=f"{GROUP}-config")
    async def on_clinic(
        batch: list[Annotated[bytes, documented_as(ClinicConfigured, StaffChanged, CaseAssigned)]],
        msg: KafkaMessage,
    ) -> None:
        await clinic.handle(msg)

    @batch_subscriber(broker, COMMANDS, group_id=f"{GROUP}-commands")
    async def on_commands(
        batch: list[Annotated[bytes, documented_as(AlertCommand)]], msg: KafkaMessage
    ) -> None:
        await commands.handle(msg)

    # Documents what the outbox relay publishes (the relay sends it; nothing publishes here).
    broker.publisher(NOTICES.name, schema=AlertNotice, description=NOTICES.description)
    return broker


def escalation_clock(
    settings: AlertsSettings, runtime: Runtime, clock: Clock
) -> Callable[[], Coroutine[Any, Any, None]]:
    async def tick() -> None:
        while True:
            try:
                pool, relay = runtime.require()
                if await escalate_due(pool, clock()):
                    relay.wake()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("escalation tick failed; retrying")
            await asyncio.sleep(settings.tick_seconds)

    return tick


def create_app(settings: AlertsSettings | None = None, clock: Clock = utc_now) -> FastAPI:
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
        background=[escalation_clock(settings, runtime, clock)],
    )


def asyncapi() -> FastStream:
    """Source of the AsyncAPI document (see `tools/contracts.py`)."""
    return FastStream(
        build_broker(AlertsSettings(), Runtime()),
        specification=asyncapi_spec(SERVICE, DESCRIPTION),
    )
