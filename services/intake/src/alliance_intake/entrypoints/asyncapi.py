"""Intake's AsyncAPI document: the requests it consumes from the gateway and what its outbox
relay publishes (responses and episode endings; clinic configuration, staff and assignments)."""

from __future__ import annotations

from faststream import FastStream

from alliance_contracts.timing import utc_now
from alliance_intake.entrypoints.http import SERVICE, build_broker
from alliance_intake.settings import IntakeSettings
from alliance_platform.runtime import Runtime, asyncapi_spec

DESCRIPTION = (
    "Accepts questionnaire responses, episode endings and clinic administration over HTTP "
    "(OpenAPI at /docs) and the same requests from the gateway as events; publishes each "
    "accepted write once, through a transactional outbox."
)


def asyncapi() -> FastStream:
    broker = build_broker(IntakeSettings(), Runtime(), utc_now)
    return FastStream(broker, specification=asyncapi_spec(SERVICE, DESCRIPTION))
