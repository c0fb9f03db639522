"""The alerts service's Kafka consumers: for each generation of the projection, scoring's
events, clinic events, users' commands and its own clock's decisions; for the service, its own
notices (webhook delivery). Each a batch pipeline with exactly-once effects."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypeVar

import asyncpg
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import TypeAdapter

from alliance_alerts.adapters.unit_of_work import (
    AlertsRaised,
    PostgresAlertsUnitOfWork,
    PostgresDeliveryUnitOfWork,
)
from alliance_alerts.application.delivery import enqueue_deliveries
from alliance_alerts.application.handlers import (
    apply_clinic_events,
    apply_clock,
    apply_commands,
    apply_scoring,
)
from alliance_alerts.entrypoints.loops import Clock, escalation_step, every
from alliance_alerts.entrypoints.metrics import count_transitions
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
from alliance_contracts.topics import ALERT_CLOCK, COMMANDS, CONFIG, NOTICES, SCORED, TopicSpec
from alliance_platform.broker import batch_subscriber, create_broker
from alliance_platform.catchup import CatchUp
from alliance_platform.config_store import ConfigurationStamps
from alliance_platform.consumer import BatchPipeline, documented_as
from alliance_platform.dead_letters import DeadLetters
from alliance_platform.lag import tracked_positions
from alliance_platform.projector import Consumers, GenerationRuntime
from alliance_platform.runtime import Runtime
from alliance_platform.tracking import Consumed, Waits

log = logging.getLogger(__name__)
SERVICE = "alerts"
DESCRIPTION = (
    "Turns scoring's derived events into alerts with a lifecycle (open, acknowledged, resolved; "
    "snooze; escalation to supervisors), routes them to the case's therapist and publishes a "
    "notice for every transition."
)
# The projection's inputs, in the order they are subscribed.
INPUTS = (SCORED, CONFIG, COMMANDS, ALERT_CLOCK)
E = TypeVar("E")


def input_groups(group: str) -> dict[str, str]:
    """The projection's input topics and the consumer group that applies each (the clock
    decides only once they all have caught up: `entrypoints/loops.py`)."""
    return {
        SCORED.name: group,
        CONFIG.name: f"{group}-config",
        COMMANDS.name: f"{group}-commands",
        ALERT_CLOCK.name: f"{group}-clock",
    }


def build_consumers(
    settings: AlertsSettings, runtime: GenerationRuntime, clock: Clock = utc_now
) -> Consumers:
    """One generation's consumers, their positions tracked in its slot, and its clock (which
    only the live generation runs)."""
    broker = create_broker(settings, SERVICE)
    groups = input_groups(runtime.group)
    dead_letters = DeadLetters(broker, SERVICE, settings.kafka_message_max_bytes)
    built: list[BatchPipeline[Any]] = []

    def pool() -> asyncpg.Pool:
        return runtime.pool

    def pipeline(
        adapter: Any,
        topic: TopicSpec,
        handler: Callable[[PostgresAlertsUnitOfWork, Sequence[E]], Awaitable[int]],
        waits: Waits | None = None,
    ) -> BatchPipeline[E]:
        """One topic's pipeline, its positions tracked in the generation's slot."""

        async def process(consumed: Consumed[E]) -> None:
            uow = PostgresAlertsUnitOfWork(runtime.pool, runtime.schema, consumed, runtime.frontier)
            if await handler(uow, consumed.events):
                runtime.relay.wake()  # notices were enqueued

        tracking = settings.tracking(pool, runtime.schema, topic.name, waits, runtime.live_frontier)
        built.append(BatchPipeline(TypeAdapter(adapter), process, dead_letters, tracking=tracking))
        return built[-1]

    async def on_scoring(uow: PostgresAlertsUnitOfWork, events: Sequence[ScoringOutput]) -> int:
        notices = await apply_scoring(uow, events)
        # An alert that parked commands or escalations wait for may have been raised.
        commands.wake_parked()
        clock_events.wake_parked()
        return notices

    # Signals stamped with a configuration version not consumed yet are parked until it is.
    scoring: BatchPipeline[ScoringOutput] = pipeline(
        ScoringOutput, SCORED, on_scoring, ConfigurationStamps()
    )

    async def on_clinic_events(uow: PostgresAlertsUnitOfWork, events: Sequence[ClinicInput]) -> int:
        notices = await apply_clinic_events(uow, events)
        scoring.wake_parked()  # a version parked signals wait for may have come
        return notices

    clinic: BatchPipeline[ClinicInput] = pipeline(ClinicInput, CONFIG, on_clinic_events)
    # Commands for an alert not raised yet are parked until it is.
    commands: BatchPipeline[AlertCommand] = pipeline(
        AlertCommand, COMMANDS, apply_commands, AlertsRaised()
    )
    # The clock's recorded escalations (alerts' own topic), parked like commands.
    clock_events: BatchPipeline[AlertClockEvent] = pipeline(
        AlertClockEvent, ALERT_CLOCK, apply_clock, AlertsRaised()
    )

    @batch_subscriber(broker, SCORED, group_id=groups[SCORED.name], tracking=scoring.tracking)
    async def on_scored(
        batch: list[Annotated[bytes, documented_as(ResponseScored, ClinicalSignal)]],
        msg: KafkaMessage,
    ) -> None:
        await scoring.handle(msg)

    @batch_subscriber(broker, CONFIG, group_id=groups[CONFIG.name], tracking=clinic.tracking)
    async def on_clinic(
        batch: list[Annotated[bytes, documented_as(ClinicConfigured, StaffChanged, CaseAssigned)]],
        msg: KafkaMessage,
    ) -> None:
        await clinic.handle(msg)

    @batch_subscriber(broker, COMMANDS, group_id=groups[COMMANDS.name], tracking=commands.tracking)
    async def on_commands(
        batch: list[Annotated[bytes, documented_as(AlertCommand)]], msg: KafkaMessage
    ) -> None:
        await commands.handle(msg)

    @batch_subscriber(
        broker, ALERT_CLOCK, group_id=groups[ALERT_CLOCK.name], tracking=clock_events.tracking
    )
    async def on_clock(
        batch: list[Annotated[bytes, documented_as(EscalationDue)]], msg: KafkaMessage
    ) -> None:
        await clock_events.handle(msg)

    # Documents what the outbox relay publishes (the relay sends it; nothing publishes here).
    broker.publisher(NOTICES.name, schema=AlertNotice, description=NOTICES.description)
    broker.publisher(ALERT_CLOCK.name, schema=EscalationDue, description=ALERT_CLOCK.description)

    async def positions() -> dict[tuple[str, int], int]:
        return await tracked_positions(runtime.pool, runtime.schema)

    catch_up = CatchUp(settings.kafka_bootstrap_servers, groups, f"{SERVICE}-clock", positions)
    escalation = every(
        settings.tick_seconds,
        "escalation",
        escalation_step(runtime, clock, catch_up),
        stop=catch_up.close,
    )
    return Consumers(broker, loops=[p.upkeep for p in built], live_loops=[escalation])


def subscribe_deliveries(
    broker: KafkaBroker, settings: AlertsSettings, runtime: Runtime, clock: Clock = utc_now
) -> None:
    """The service's own consumer of its notices: queues their webhook deliveries."""
    dead_letters = DeadLetters(broker, SERVICE, settings.kafka_message_max_bytes)

    async def enqueue(consumed: Consumed[AlertNotice]) -> None:
        uow = PostgresDeliveryUnitOfWork(runtime.require()[0])
        await enqueue_deliveries(uow, consumed.events, clock(), settings.delivery_policy())
        count_transitions(consumed.events)

    # Untracked: the delivery log (alerts_delivery, not rebuilt) is keyed by notice id, so a
    # redelivery queues nothing twice; Kafka's committed offsets of this group say where
    # delivery stands. Not versioned with the projection: a rebuild re-publishes no notice
    # that was sent, and one that is is not delivered again.
    deliveries: BatchPipeline[AlertNotice] = BatchPipeline(
        TypeAdapter(AlertNotice), enqueue, dead_letters
    )

    @batch_subscriber(broker, NOTICES, group_id=f"{SERVICE}-delivery")
    async def on_notices(
        batch: list[Annotated[bytes, documented_as(AlertNotice)]], msg: KafkaMessage
    ) -> None:
        await deliveries.handle(msg)
