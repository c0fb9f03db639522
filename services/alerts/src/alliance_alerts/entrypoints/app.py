"""Alerts process: FastStream batch consumers (scoring's events, clinic events, users'
commands) and the escalation clock, inside a FastAPI app (health)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

import asyncpg
import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path
from faststream import FastStream
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, TypeAdapter

from alliance_alerts.adapters.delivery_tables import DELIVERY_SCHEMA
from alliance_alerts.adapters.delivery_tables import TABLES as DELIVERY_TABLES
from alliance_alerts.adapters.secret_box import SecretBox
from alliance_alerts.adapters.tables import (
    PROJECTION_VERSION,
    READ_MODELS,
    SCHEMA,
    TABLES,
)
from alliance_alerts.application.delivery import (
    EndpointRefused,
    RotationInProgress,
    deliver_due,
    delivery_log,
    enqueue_deliveries,
    migrate_plaintext_secrets,
    rotate_secret,
    set_endpoint,
)
from alliance_alerts.application.handlers import (
    apply_clinic_events,
    apply_commands,
    apply_scoring,
    escalate_due,
)
from alliance_alerts.settings import AlertsSettings
from alliance_shared.access import Caller, Principal
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
from alliance_shared.http_security import ERRORS, error_body, principal, unavailable
from alliance_shared.ids import PSEUDONYMOUS_ID_PATTERN
from alliance_shared.runtime import Runtime, asyncapi_spec, consumer_service_app
from alliance_shared.timing import utc_now
from alliance_shared.tokens import TokenVerifier
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
ClinicPath = Annotated[str, Path(pattern=PSEUDONYMOUS_ID_PATTERN, max_length=64)]
Clock = Callable[[], datetime]


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
    settings: AlertsSettings, runtime: Runtime, clock: Clock
) -> Callable[[], Awaitable[None]]:
    # Redirects are not followed (a public endpoint must not bounce a delivery inward), and no
    # proxy from the environment is used.
    client = httpx.AsyncClient(follow_redirects=False, trust_env=False)
    box = settings.secret_box()

    migrated = False

    async def step() -> None:
        nonlocal migrated
        if box is None:
            return  # no encryption key: no endpoint can be registered, nothing to send
        pool, relay = runtime.require()
        if not migrated:
            await migrate_plaintext_secrets(pool, box)
            migrated = True
        if await deliver_due(pool, client, box, clock(), settings.delivery_policy()):
            relay.wake()  # a dead letter may be waiting in the outbox

    return step


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl = Field(
        description="https, on a host that resolves to public addresses only (unless the "
        "operator allows its network: ALLIANCE_WEBHOOK_ALLOW_NETWORKS)."
    )
    active: bool = True


class WebhookRegistered(BaseModel):
    url: str
    active: bool
    secret: str | None = Field(
        description="The signing secret (`whsec_...`), shown once: when the endpoint is created."
    )


class SecretRotated(BaseModel):
    secret: str = Field(description="The new signing secret (`whsec_...`), shown once.")
    previous_valid_until: datetime = Field(
        description="Until then deliveries are signed with both secrets."
    )


def webhook_router(settings: AlertsSettings, runtime: Runtime, clock: Clock) -> APIRouter:
    """Clinic admins manage their clinic's webhook (a person's bearer token, checked by the
    service's door; see `consumer_service_app`)."""
    router = APIRouter(prefix="/v1/clinics/{clinic_id}", tags=["webhooks"], responses=ERRORS)
    box = settings.secret_box()

    def clinic_admin(caller: Principal, clinic_id: str) -> SecretBox:
        if not (isinstance(caller, Caller) and caller.may_read_audit(clinic_id)):
            detail = error_body(
                ["path", "clinic_id"], "clinic admins of this clinic only", "forbidden"
            )
            raise HTTPException(403, detail["detail"])
        if box is None:
            status, body, headers = unavailable("webhook secret encryption (ALLIANCE_WEBHOOK_KEYS)")
            raise HTTPException(status, body["detail"], headers)
        return box

    @router.put("/webhook", response_model=WebhookRegistered)
    async def put_webhook(
        caller: Annotated[Principal, Depends(principal)],
        clinic_id: ClinicPath,
        hook: WebhookSettings,
    ) -> WebhookRegistered:
        """The clinic's webhook: every live notice is POSTed to it, signed as the Standard
        Webhooks specification has it (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
        The secret is returned once, when the endpoint is created; rotate it with
        `POST .../webhook/secret`."""
        sealer = clinic_admin(caller, clinic_id)
        url = str(hook.url)
        try:
            secret = await set_endpoint(
                runtime.require()[0],
                sealer,
                clinic_id,
                url,
                hook.active,
                settings.delivery_policy(),
            )
        except EndpointRefused as refused:
            raise HTTPException(
                422, error_body(["body", "url"], str(refused), "value_error")["detail"]
            ) from refused
        return WebhookRegistered(url=url, active=hook.active, secret=secret)

    @router.post(
        "/webhook/secret",
        response_model=SecretRotated,
        responses={
            404: {"description": "The clinic has no webhook."},
            409: {"description": "The previous rotation's changeover is not over yet."},
        },
    )
    async def rotate_webhook_secret(
        caller: Annotated[Principal, Depends(principal)], clinic_id: ClinicPath
    ) -> SecretRotated:
        """A new signing secret. The previous one stays valid for the changeover
        (ALLIANCE_WEBHOOK_ROTATION_OVERLAP_H, 24 h by default): deliveries carry both
        signatures meanwhile."""
        sealer = clinic_admin(caller, clinic_id)
        try:
            rotated = await rotate_secret(
                runtime.require()[0], sealer, clinic_id, clock(), settings.delivery_policy()
            )
        except RotationInProgress as busy:
            raise HTTPException(
                409, f"a rotation is in progress: the previous secret is valid until {busy.until}"
            ) from busy
        if rotated is None:
            raise HTTPException(404, "the clinic has no webhook")
        return SecretRotated(secret=rotated[0], previous_valid_until=rotated[1])

    @router.get("/deliveries")
    async def get_deliveries(
        caller: Annotated[Principal, Depends(principal)], clinic_id: ClinicPath
    ) -> list[dict[str, Any]]:
        """The delivery log: each notice sent to the clinic's webhook, with every attempt."""
        clinic_admin(caller, clinic_id)
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
        read_models=READ_MODELS,
        projection_version=PROJECTION_VERSION,
        broker=broker,
        runtime=runtime,
        background=[
            every(settings.tick_seconds, "escalation", escalation_step(runtime, clock)),
            every(
                settings.tick_seconds,
                "webhook delivery",
                delivery_step(settings, runtime, clock),
            ),
        ],
        extra_schemas=[(DELIVERY_SCHEMA, DELIVERY_TABLES)],
        routers=[webhook_router(settings, runtime, clock)],
        authenticate=TokenVerifier(settings.tokens()).person,
    )


def asyncapi() -> FastStream:
    """Source of the AsyncAPI document (see `tools/contracts.py`)."""
    return FastStream(
        build_broker(AlertsSettings(), Runtime()),
        specification=asyncapi_spec(SERVICE, DESCRIPTION),
    )
