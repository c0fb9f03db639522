"""The alerts service's Kafka consumers: scoring's events, clinic events, users' commands, its
own clock's decisions and its own notices (for webhook delivery), each a batch pipeline with
exactly-once effects."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import TypeAdapter

from alliance_alerts.adapters.tables import PROJECTION_VERSION
from alliance_alerts.adapters.unit_of_work import PostgresAlertsUnitOfWork
from alliance_alerts.application.delivery import enqueue_deliveries
from alliance_alerts.application.handlers import (
    apply_clinic_events,
    apply_clock,
    apply_commands,
    apply_scoring,
)
from alliance_alerts.settings import AlertsSettings
from alliance_contracts.events import (
    AlertClockEvent,
    AlertCommand,
    AlertNotice,
    CaseAssigned,
    ClinicalSignal,
    ClinicConfigured,
    ClinicInput,
    EscalationDue,
    ResponseScored,
    ScoringOutput,
    StaffChanged,
)
from alliance_contracts.timing import utc_now
from alliance_contracts.topics import ALERT_CLOCK, COMMANDS, CONFIG, NOTICES, SCORED
from alliance_platform.broker import batch_subscriber, create_broker
from alliance_platform.consumer import BatchPipeline, DeadLetters, documented_as
from alliance_platform.runtime import Runtime

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


def input_groups(group: str = GROUP) -> dict[str, str]:
    """The projection's input topics and the consumer group that applies each (the clock
    decides only once they all have caught up: `entrypoints/loops.py`)."""
    return {
        SCORED.name: group,
        CONFIG.name: f"{group}-config",
        COMMANDS.name: f"{group}-commands",
        ALERT_CLOCK.name: f"{group}-clock",
    }


def build_broker(
    settings: AlertsSettings, runtime: Runtime, clock: Clock = utc_now, group: str = GROUP
) -> KafkaBroker:
    """`group`: the projection's consumer group (a projection built beside the live one reads
    the topics from the start with a group of its own)."""
    broker = create_broker(settings, SERVICE)
    groups = input_groups(group)
    dead_letters = DeadLetters(broker, SERVICE)

    def pipeline(
        adapter: Any, handler: Callable[[Sequence[E]], Awaitable[int]]
    ) -> BatchPipeline[E]:
        async def process(events: Sequence[E]) -> None:
            if await handler(events):  # notices were enqueued
                runtime.require()[1].wake()

        return BatchPipeline(TypeAdapter(adapter), process, dead_letters)

    def unit_of_work() -> PostgresAlertsUnitOfWork:
        return PostgresAlertsUnitOfWork(runtime.require()[0])

    scoring: BatchPipeline[ScoringOutput] = pipeline(
        ScoringOutput, lambda events: apply_scoring(unit_of_work(), events)
    )
    clinic: BatchPipeline[ClinicInput] = pipeline(
        ClinicInput, lambda events: apply_clinic_events(unit_of_work(), events)
    )
    commands: BatchPipeline[AlertCommand] = pipeline(
        AlertCommand, lambda events: apply_commands(unit_of_work(), events)
    )
    clock_events: BatchPipeline[AlertClockEvent] = pipeline(
        AlertClockEvent, lambda events: apply_clock(unit_of_work(), events)
    )

    @batch_subscriber(broker, SCORED, group_id=groups[SCORED.name])
    async def on_scored(
        batch: list[Annotated[bytes, documented_as(ResponseScored, ClinicalSignal)]],
        msg: KafkaMessage,
    ) -> None:
        await scoring.handle(msg)

    @batch_subscriber(broker, CONFIG, group_id=groups[CONFIG.name])
    async def on_clinic(
        batch: list[Annotated[bytes, documented_as(ClinicConfigured, StaffChanged, CaseAssigned)]],
        msg: KafkaMessage,
    ) -> None:
        await clinic.handle(msg)

    @batch_subscriber(broker, COMMANDS, group_id=groups[COMMANDS.name])
    async def on_commands(
        batch: list[Annotated[bytes, documented_as(AlertCommand)]], msg: KafkaMessage
    ) -> None:
        await commands.handle(msg)

    @batch_subscriber(broker, ALERT_CLOCK, group_id=groups[ALERT_CLOCK.name])
    async def on_clock(
        batch: list[Annotated[bytes, documented_as(EscalationDue)]], msg: KafkaMessage
    ) -> None:
        await clock_events.handle(msg)

    async def enqueue(notices: Sequence[AlertNotice]) -> int:
        await enqueue_deliveries(unit_of_work(), notices, clock(), settings.delivery_policy())
        return 0  # deliveries are sent by the delivery loop, not the relay

    deliveries: BatchPipeline[AlertNotice] = pipeline(AlertNotice, enqueue)

    # Not versioned with the projection: a rebuild replays notices, which must not be
    # delivered again (the delivery log is keyed by notice id, and old notices are not live).
    @batch_subscriber(broker, NOTICES, group_id=f"{SERVICE}-delivery")
    async def on_notices(
        batch: list[Annotated[bytes, documented_as(AlertNotice)]], msg: KafkaMessage
    ) -> None:
        await deliveries.handle(msg)

    # Documents what the outbox relay publishes (the relay sends it; nothing publishes here).
    broker.publisher(NOTICES.name, schema=AlertNotice, description=NOTICES.description)
    broker.publisher(ALERT_CLOCK.name, schema=EscalationDue, description=ALERT_CLOCK.description)
    return broker
