"""Intake's AsyncAPI document: what the outbox relay publishes. Intake consumes nothing."""

from __future__ import annotations

from faststream import FastStream

from alliance_intake.settings import IntakeSettings
from alliance_shared.broker import create_broker
from alliance_shared.events import CaseInput
from alliance_shared.runtime import asyncapi_spec
from alliance_shared.topics import RESPONSES

DESCRIPTION = (
    "Accepts questionnaire responses over HTTP (OpenAPI at /docs) and publishes each accepted "
    "response once, through a transactional outbox, keyed by case id."
)


def asyncapi() -> FastStream:
    broker = create_broker(IntakeSettings(), "intake")
    broker.publisher(RESPONSES.name, schema=CaseInput, description=RESPONSES.description)
    return FastStream(broker, specification=asyncapi_spec("intake", DESCRIPTION))
