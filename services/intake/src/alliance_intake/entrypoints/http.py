"""HTTP entrypoint: FastAPI app with the write endpoints, health and the outbox relay.

Every endpoint but health and the documentation takes a bearer token (see
`alliance_platform.http_security`): clinic systems write within the scopes and clinics of their
token; clinic admins use the `clinic:admin` endpoints of their clinics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import FastAPI, status
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import TypeAdapter, ValidationError

from alliance_contracts.access import Scope
from alliance_contracts.events import (
    CaseAssignmentRequested,
    CaseInput,
    ClinicInput,
    EpisodeEndingRequested,
    IntakeCommand,
)
from alliance_contracts.timing import utc_now
from alliance_contracts.topics import CONFIG, INTAKE_COMMANDS, RESPONSES
from alliance_intake.adapters.repository import current_configuration
from alliance_intake.adapters.tables import SCHEMA
from alliance_intake.adapters.unit_of_work import PostgresIntakeUnitOfWork
from alliance_intake.application.commands import GATEWAY_KEY_PREFIX, apply_commands
from alliance_intake.application.ports import IntakeUnitOfWork
from alliance_intake.application.submit import (
    LatestVersions,
    Rejected,
    assign_case,
    change_staff,
    configure_clinic,
    record_episode_ending,
    set_demographics,
    submit_response,
)
from alliance_intake.domain.submission import IdempotencyConflict, SubmissionReceipt
from alliance_intake.entrypoints.common import (
    ERRORS,
    READ_ERRORS,
    Caller,
    ClinicPath,
    IdPath,
    rejection,
)
from alliance_intake.entrypoints.corrections import corrections_router
from alliance_intake.entrypoints.fast_path import SubmissionFastPath
from alliance_intake.entrypoints.fhir import fhir_router
from alliance_intake.entrypoints.fhir_writes import fhir_writes_router
from alliance_intake.entrypoints.requests import (
    Assignment,
    CaseDemographics,
    ConfigurationChange,
    EpisodeEndingSubmission,
    ResponseSubmission,
    StaffChange,
)
from alliance_intake.migrations import ENVIRONMENT as MIGRATIONS
from alliance_intake.settings import IntakeSettings
from alliance_platform.broker import batch_subscriber, create_broker, subscriptions
from alliance_platform.consumer import BatchPipeline, documented_as
from alliance_platform.db import create_pool, ping
from alliance_platform.dead_letters import DeadLetters
from alliance_platform.fhir_refusals import answer_fhir_refusals
from alliance_platform.health import health_router
from alliance_platform.http_security import error_body, install, require_write
from alliance_platform.kafka import kafka_reachable
from alliance_platform.lag import report_lag
from alliance_platform.metrics import install_metrics
from alliance_platform.migrate import require_at_head
from alliance_platform.outbox_relay import OutboxRelay
from alliance_platform.pages import install_api_docs
from alliance_platform.runtime import Runtime
from alliance_platform.tokens import TokenVerifier
from alliance_platform.tracking import Consumed

log = logging.getLogger(__name__)
SERVICE = "intake"
REQUESTS = (EpisodeEndingRequested, CaseAssignmentRequested)


async def start_when_kafka_answers(broker: KafkaBroker, retry_s: float = 5.0) -> None:
    while True:
        try:
            await broker.start()
            return
        except (OSError, KafkaError) as exc:
            log.warning("Kafka unavailable; consuming requests later", extra={"error": repr(exc)})
            await asyncio.sleep(retry_s)


def build_broker(
    settings: IntakeSettings, runtime: Runtime, now: Callable[[], datetime]
) -> KafkaBroker:
    """Consumes the requests intake owns that users make through the gateway."""
    broker = create_broker(settings, SERVICE)

    async def process(consumed: Consumed[IntakeCommand]) -> None:
        pool, relay = runtime.require()
        await apply_commands(PostgresIntakeUnitOfWork(pool), consumed.events, now)
        relay.wake()

    pipeline: BatchPipeline[IntakeCommand] = BatchPipeline(
        TypeAdapter(IntakeCommand),
        process,
        DeadLetters(broker, SERVICE, settings.kafka_message_max_bytes),
    )

    @batch_subscriber(broker, INTAKE_COMMANDS, group_id=f"{SERVICE}-commands")
    async def on_commands(
        batch: list[
            Annotated[bytes, documented_as(EpisodeEndingRequested, CaseAssignmentRequested)]
        ],
        msg: KafkaMessage,
    ) -> None:
        await pipeline.handle(msg)

    # Documents what the outbox relay publishes (the relay sends it; nothing publishes here).
    broker.publisher(RESPONSES.name, schema=CaseInput, description=RESPONSES.description)
    broker.publisher(CONFIG.name, schema=ClinicInput, description=CONFIG.description)
    return broker


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    verifier = TokenVerifier(settings.tokens())
    runtime = Runtime()
    versions = LatestVersions()  # this process's hint; each submission's statement checks it

    broker = build_broker(settings, runtime, utc_now)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await require_at_head(settings.database_url, MIGRATIONS)  # no DDL here: migrations
        # No session reset on release: intake's statements leave nothing in a session (its one
        # lock is a transaction's, `pg_advisory_xact_lock`; no SET, LISTEN or held cursors).
        pool = await create_pool(settings.database_url, settings.db_pool_size, session_state=False)
        relay = OutboxRelay(
            pool,
            SCHEMA,
            settings.kafka_bootstrap_servers,
            "intake-relay",
            max_message_bytes=settings.kafka_message_max_bytes,
        )
        relay.start()
        runtime.pool, runtime.relay = pool, relay
        # Requests from the gateway; while Kafka is down they wait in their topic (and HTTP
        # writes go on: the outbox keeps them).
        broker_started = asyncio.create_task(start_when_kafka_answers(broker))
        try:
            yield
        finally:
            broker_started.cancel()
            await asyncio.gather(broker_started, return_exceptions=True)
            await broker.stop()
            await relay.stop()
            await pool.close()

    app = FastAPI(
        title="Alliance intake",
        version="1",
        description="Accepts questionnaire responses (clients, parents/caregivers, therapists). "
        "Accepted responses are durable in PostgreSQL before the answer and reach Kafka through "
        "an outbox, also when Kafka is down at the time.",
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
        docs_url=None,  # Swagger UI from the service's own files: install_api_docs
        redoc_url=None,
    )
    install_api_docs(app)
    app.state.runtime = runtime

    async def submit(submission: ResponseSubmission) -> SubmissionReceipt | JSONResponse:
        """`POST /v1/responses` once the caller may write the submission's clinic."""
        return await accept(
            submission.idempotency_key,
            lambda uow: submit_response(uow, submission, utc_now, versions=versions),
        )

    # Inside the door (added first, so SecureDoor wraps it): the everyday submission skips
    # FastAPI's routing; every other request, and every error, is the routes' (fast_path.py).
    app.add_middleware(SubmissionFastPath, submit=submit)
    install(app, authenticate=verifier.principal, limiter=settings.limiter())
    answer_fhir_refusals(app)  # outside the door: its refusals on /fhir are FHIR too
    scrape = install_metrics(app, settings.metrics_token_file)

    async def consumer_lag() -> None:
        await report_lag(settings.kafka_bootstrap_servers, subscriptions(broker))

    async def outbox() -> None:
        await runtime.require()[1].report()

    scrape.add("consumers", consumer_lag)
    scrape.add("outbox", outbox)

    async def db_up() -> bool:
        return runtime.pool is not None and await ping(runtime.pool)

    async def kafka_up() -> bool:
        return await kafka_reachable(settings.kafka_bootstrap_servers)

    # Intake keeps accepting while Kafka is down (the outbox holds the events), so Kafka is
    # reported but does not take intake out of service.
    app.include_router(health_router({"postgres": db_up}, {"kafka": kafka_up}))

    @app.post(
        "/v1/responses",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=SubmissionReceipt,
        responses=ERRORS,
        tags=["responses"],
    )
    async def post_response(
        submission: ResponseSubmission, caller: Caller
    ) -> SubmissionReceipt | JSONResponse:
        """Accepts one questionnaire response. A retry with the same idempotency key returns the
        original event id and publishes nothing new. Scope `responses:write`."""
        require_write(caller, submission.clinic_id, Scope.RESPONSES_WRITE, "body")
        return await submit(submission)

    app.include_router(corrections_router(runtime))
    app.include_router(fhir_router())
    app.include_router(fhir_writes_router(runtime))

    @app.post(
        "/v1/episode-endings",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=SubmissionReceipt,
        responses=ERRORS,
        tags=["episodes"],
    )
    async def post_episode_ending(
        submission: EpisodeEndingSubmission, caller: Caller
    ) -> SubmissionReceipt | JSONResponse:
        """Records the end of a treatment episode: `planned` (mutual agreement) or `unilateral`
        (the client dropped out). Idempotent like responses. Scope `responses:write`."""
        require_write(caller, submission.clinic_id, Scope.RESPONSES_WRITE, "body")
        return await accept(
            submission.idempotency_key,
            lambda uow: record_episode_ending(uow, submission, utc_now),
        )

    @app.patch(
        "/v1/clinics/{clinic_id}/configuration",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=SubmissionReceipt,
        responses=ERRORS,
        tags=["configuration"],
    )
    async def patch_configuration(
        clinic_id: ClinicPath, change: ConfigurationChange, caller: Caller
    ) -> SubmissionReceipt | JSONResponse:
        """Changes the clinic's clinical configuration (cut-offs, norm set, reliable-change
        values, rupture and split thresholds, phase boundaries, rules switched on or off). The
        change is an event; responses administered from `effective_from` use it. Keys and
        defaults: docs/clinical.md. Scope `clinic:admin`."""
        require_write(caller, clinic_id, Scope.CLINIC_ADMIN)
        try:
            return await accept(
                change.idempotency_key,
                lambda uow: configure_clinic(uow, clinic_id, change, utc_now, versions=versions),
            )
        except ValidationError as invalid:
            detail = [
                {"loc": ["body", "overrides", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in invalid.errors()
            ]
            return JSONResponse({"detail": detail}, status_code=422)

    @app.get("/v1/clinics/{clinic_id}/configuration", tags=["configuration"], responses=READ_ERRORS)
    async def get_configuration(clinic_id: ClinicPath, caller: Caller) -> dict[str, Any]:
        """The clinic's current configuration and its version (0: the network defaults).
        Scope `clinic:admin`."""
        require_write(caller, clinic_id, Scope.CLINIC_ADMIN)
        pool, _ = runtime.require()
        async with pool.acquire() as conn:
            version, config, effective_from = await current_configuration(conn, clinic_id)
        return {
            "clinic_id": clinic_id,
            "version": version,
            "effective_from": effective_from,
            "configuration": config.model_dump(mode="json"),
        }

    @app.put(
        "/v1/clinics/{clinic_id}/staff/{staff_id}",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=SubmissionReceipt,
        responses=ERRORS,
        tags=["routing"],
    )
    async def put_staff(
        clinic_id: ClinicPath, staff_id: IdPath, change: StaffChange, caller: Caller
    ) -> SubmissionReceipt | JSONResponse:
        """Adds or changes a member of the clinic's staff (therapist, supervisor, clinic admin).
        Supervisors receive escalated alerts and critical items. Scope `clinic:admin`."""
        require_write(caller, clinic_id, Scope.CLINIC_ADMIN)
        return await accept(
            change.idempotency_key,
            lambda uow: change_staff(uow, clinic_id, staff_id, change, utc_now),
        )

    @app.put(
        "/v1/clinics/{clinic_id}/cases/{case_id}/assignment",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=SubmissionReceipt,
        responses=ERRORS,
        tags=["routing"],
    )
    async def put_assignment(
        clinic_id: ClinicPath, case_id: IdPath, assignment: Assignment, caller: Caller
    ) -> SubmissionReceipt | JSONResponse:
        """Assigns (or transfers) a case to a therapist: its alerts go to them. Scope
        `clinic:admin`."""
        require_write(caller, clinic_id, Scope.CLINIC_ADMIN)
        return await accept(
            assignment.idempotency_key,
            lambda uow: assign_case(uow, clinic_id, case_id, assignment, utc_now),
        )

    @app.put(
        "/v1/clinics/{clinic_id}/cases/{case_id}/demographics",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=SubmissionReceipt,
        responses=ERRORS,
        tags=["cases"],
    )
    async def put_demographics(
        clinic_id: ClinicPath, case_id: IdPath, change: CaseDemographics, caller: Caller
    ) -> SubmissionReceipt | JSONResponse:
        """Sets the case's age band and/or OQ-45.2 norm set from `effective_from` on: scores of
        responses administered from then are judged with them, earlier ones keep theirs. Scope
        `clinic:admin`."""
        require_write(caller, clinic_id, Scope.CLINIC_ADMIN)
        return await accept(
            change.idempotency_key,
            lambda uow: set_demographics(uow, clinic_id, case_id, change, caller.subject, utc_now),
        )

    async def accept(
        key: str,
        use_case: Callable[[IntakeUnitOfWork], Awaitable[SubmissionReceipt]],
    ) -> SubmissionReceipt | JSONResponse:
        if key.startswith(GATEWAY_KEY_PREFIX):  # the gateway's requests have their own keys
            rule = f"must not start with {GATEWAY_KEY_PREFIX} (reserved for gateway requests)"
            return JSONResponse(error_body(["body", "idempotency_key"], rule, "reserved"), 422)
        pool, relay = runtime.require()
        try:
            receipt = await use_case(PostgresIntakeUnitOfWork(pool))
        except Rejected as rejected:
            return rejection(rejected)
        except IdempotencyConflict:
            conflict = {
                "loc": ["body", "idempotency_key"],
                "msg": "was already used for a different submission",
                "type": "idempotency_conflict",
            }
            return JSONResponse({"detail": [conflict]}, status_code=409)
        relay.wake()
        return receipt

    @app.get("/v1/outbox", tags=["operations"], responses=READ_ERRORS)
    async def outbox_status(_: Caller) -> dict[str, int | float | None]:
        """How many accepted events are not yet published to Kafka, the age of the oldest in
        seconds, and how many Kafka could not take (parked; see docs/operations.md). Counts
        only: any valid token."""
        status = await runtime.require()[1].status()
        return {
            "pending": status.backlog,
            "oldest_age_seconds": status.oldest_age_s,
            "parked": status.parked,
        }

    return app
