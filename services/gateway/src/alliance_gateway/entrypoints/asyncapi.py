"""The gateway's AsyncAPI document: the commands and audit records its outbox relay publishes,
and the notices it reads for subscriptions (a fan-out reader, no consumer group)."""

from __future__ import annotations

from typing import Annotated

from faststream import FastStream
from faststream.kafka import KafkaMessage

from alliance_contracts.events import AlertCommand, AlertNotice, IntakeCommand, ReadAudited
from alliance_contracts.topics import AUDIT, COMMANDS, INTAKE_COMMANDS, NOTICES
from alliance_gateway.settings import GatewaySettings
from alliance_platform.broker import create_broker
from alliance_platform.consumer import documented_as
from alliance_platform.runtime import asyncapi_spec

DESCRIPTION = (
    "GraphQL API over the read models. Mutations become command events (published through the "
    "gateway's outbox); every read of client-level data becomes an audit event; subscriptions "
    "are fed from the notices topic."
)


def asyncapi() -> FastStream:
    broker = create_broker(GatewaySettings(), "gateway")

    @broker.subscriber(NOTICES.name, description="Read by every gateway instance (no group).")
    async def on_notice(
        notice: Annotated[bytes, documented_as(AlertNotice)], msg: KafkaMessage
    ) -> None:
        """Documentation only: the NoticeHub reads this topic with aiokafka."""

    broker.publisher(
        COMMANDS.name,
        schema=AlertCommand,
        description="acknowledgeAlert, resolveAlert, snoozeAlert, reassignAlert",
    )
    broker.publisher(
        INTAKE_COMMANDS.name,
        schema=IntakeCommand,
        description="recordEpisodeEnding, assignCase, amendResponse, voidResponse (intake "
        "applies them)",
    )
    broker.publisher(AUDIT.name, schema=ReadAudited, description=AUDIT.description)
    return FastStream(broker, specification=asyncapi_spec("gateway", DESCRIPTION))
