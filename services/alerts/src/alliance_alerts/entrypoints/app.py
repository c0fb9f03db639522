"""Alerts process: FastStream batch consumers (scoring's events, clinic events, users'
commands) and the escalation clock, inside a FastAPI app (health)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import asyncpg
import httpx
from fastapi import APIRouter, FastAPI, HTTPException, Path, Request
from faststream import FastStream
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import AnyHttpUrl, BaseModel, Field, TypeAdapter

from alliance_alerts.adapters.delivery_tables import DELIVERY_SCHEMA
from alliance_alerts.adapters.delivery_tables import TABLES as DELIVERY_TABLES
from alliance_alerts.adapters.tables import PROJECTION_VERSION, SCHEMA, TABLES
from alliance_alerts.application.delivery import (
    deliver_due,
    delivery_log,
    enqueue_deliveries,
    set_webhook,
)
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
from alliance_shared.ids import PSEUDONYMOUS_ID_PATTERN
from alliance_shared.runtime import Runtime, asyncapi_spec, consumer_service_app
from alliance_shared.tokens import InvalidToken, TokenVerifier
from alliance_shared.topics import COMMANDS, CONFIG, DEAD_LETTER, NOTICES, SCORED

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
ClinicPath = Annotated[str, Path(pattern=PSEUDONYMOUS_ID_PATTERN, max_length=64)]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_broker(settings: AlertsSettings, runtime: Runtime, clock: Clock = utc_now) -> KafkaBroker:
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

    async def enqueue(pool: asyncpg.Pool, notices: Sequence[AlertNotice]) -> int:
        await enqueue_deliveries(pool, notices, clock(), settings.delivery_policy())
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
    return broker


def every(
    seconds: float, name: str, step: Callable[[], Awaitable[None]]
) -> Callable[[], Coroutine[Any, Any, None]]:
    async def loop() -> None:
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; retrying", name)
            await asyncio.sleep(seconds)

    return loop


def escalation_step(runtime: Runtime, clock: Clock) -> Callable[[], Awaitable[None]]:
    async def step() -> None:
        pool, relay = runtime.require()
        if await escalate_due(pool, clock()):
            relay.wake()

    return step


def delivery_step(
    settings: AlertsSettings, runtime: Runtime, broker: KafkaBroker, clock: Clock
) -> Callable[[], Awaitable[None]]:
    client = httpx.AsyncClient()

    async def dead_letter(body: bytes, clinic_id: str, reason: str) -> None:
        headers = {"dlq_reason": reason, "dlq_service": SERVICE, "dlq_source": "webhook"}
        await broker.publish(body, DEAD_LETTER.name, key=clinic_id.encode(), headers=headers)

    async def step() -> None:
        pool, _ = runtime.require()
        await deliver_due(pool, client, clock(), settings.delivery_policy(), dead_letter)

    return step


class WebhookSettings(BaseModel):
    url: AnyHttpUrl
    secret: str = Field(min_length=16, description="Shared secret for the HMAC signature.")
    active: bool = True


def webhook_router(settings: AlertsSettings, runtime: Runtime) -> APIRouter:
    """Clinic admins manage their clinic's webhook (bearer token, as for the gateway)."""
    router = APIRouter(prefix="/v1/clinics/{clinic_id}", tags=["webhooks"])
    try:
        verifier: TokenVerifier | None = TokenVerifier(settings.tokens())
    except ValueError:
        verifier = None  # no token configuration: the webhook API stays closed

    def clinic_admin(request: Request, clinic_id: str) -> None:
        if verifier is None:
            raise HTTPException(503, "token verification is not configured (ALLIANCE_JWKS_*)")
        try:
            caller = verifier.caller(request.headers.get("authorization"))
        except InvalidToken as exc:
            raise HTTPException(401, "invalid or missing bearer token") from exc
        if not caller.may_read_audit(clinic_id):  # clinic admins of this clinic
            raise HTTPException(403, "clinic admins of this clinic only")

    @router.put("/webhook", status_code=204)
    async def put_webhook(request: Request, clinic_id: ClinicPath, hook: WebhookSettings) -> None:
        """The clinic's webhook: every live notice is POSTed to it, signed with
        `X-Alliance-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
        HTTPS only, except in dev mode."""
        clinic_admin(request, clinic_id)
        if hook.url.scheme != "https" and not settings.dev_mode:
            raise HTTPException(422, "url: must be https")
        await set_webhook(runtime.require()[0], clinic_id, str(hook.url), hook.secret, hook.active)

    @router.get("/deliveries")
    async def get_deliveries(request: Request, clinic_id: ClinicPath) -> list[dict[str, Any]]:
        """The delivery log: each notice sent to the clinic's webhook, with every attempt."""
        clinic_admin(request, clinic_id)
        return await delivery_log(runtime.require()[0], clinic_id)

    return router


def create_app(settings: AlertsSettings | None = None, clock: Clock = utc_now) -> FastAPI:
    settings = settings or AlertsSettings()
    runtime = Runtime()
    broker = build_broker(settings, runtime, clock)
    return consumer_service_app(
        service=SERVICE,
        description=DESCRIPTION,
        settings=settings,
        schema=SCHEMA,
        tables=TABLES,
        projection_version=PROJECTION_VERSION,
        broker=broker,
        runtime=runtime,
        background=[
            every(settings.tick_seconds, "escalation", escalation_step(runtime, clock)),
            every(
                settings.tick_seconds,
                "webhook delivery",
                delivery_step(settings, runtime, broker, clock),
            ),
        ],
        extra_schemas=[(DELIVERY_SCHEMA, DELIVERY_TABLES)],
        routers=[webhook_router(settings, runtime)],
    )


def asyncapi() -> FastStream:
    """Source of the AsyncAPI document (see `tools/contracts.py`)."""
    return FastStream(
        build_broker(AlertsSettings(), Runtime()),
        specification=asyncapi_spec(SERVICE, DESCRIPTION),
    )
