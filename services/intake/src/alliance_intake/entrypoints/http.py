"""HTTP entrypoint: FastAPI app with the response endpoint, health and the outbox relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from alliance_shared.db import create_pool, create_schema, ping
from alliance_shared.health import health_router
from alliance_shared.kafka import kafka_reachable
from alliance_shared.outbox import OutboxRelay
from fastapi import FastAPI, status
from fastapi.responses import JSONResponse

from alliance_intake.adapters.tables import SCHEMA, metadata
from alliance_intake.application.submit import Rejected, submit_response
from alliance_intake.domain.submission import (
    IdempotencyConflict,
    ResponseSubmission,
    SubmissionReceipt,
)
from alliance_intake.settings import IntakeSettings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """What the lifespan opens: set while the app runs."""

    pool: asyncpg.Pool | None = None
    relay: OutboxRelay | None = None

    def require(self) -> tuple[asyncpg.Pool, OutboxRelay]:
        if self.pool is None or self.relay is None:
            raise RuntimeError("intake is not started")
        return self.pool, self.relay


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = Runtime()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await create_schema(settings.database_url, SCHEMA, list(metadata.tables.values()))
        pool = await create_pool(settings.database_url, settings.db_pool_size)
        relay = OutboxRelay(pool, SCHEMA, settings.kafka_bootstrap_servers, "intake-relay")
        relay.start()
        runtime.pool, runtime.relay = pool, relay
        try:
            yield
        finally:
            await relay.stop()
            await pool.close()

    app = FastAPI(
        title="Alliance intake",
        version="1",
        description="Accepts questionnaire responses (clients, parents/caregivers, therapists). "
        "Accepted responses are durable in PostgreSQL before the answer and reach Kafka through "
        "an outbox, also when Kafka is down at the time.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime

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
        responses={
            409: {"description": "The idempotency key was used for a different response."},
            422: {"description": "Invalid response; `detail` names each field and rule."},
        },
        tags=["responses"],
    )
    async def post_response(submission: ResponseSubmission) -> SubmissionReceipt | JSONResponse:
        """Accepts one questionnaire response. A retry with the same idempotency key returns the
        original event id and publishes nothing new."""
        pool, relay = runtime.require()
        try:
            receipt = await submit_response(pool, submission, utc_now)
        except Rejected as rejected:
            detail = [
                {"loc": ["body", *v.field.split(".")], "msg": v.rule, "type": "rule_violation"}
                for v in rejected.violations
            ]
            return JSONResponse({"detail": detail}, status_code=422)
        except IdempotencyConflict:
            return JSONResponse(
                {
                    "detail": [
                        {
                            "loc": ["body", "idempotency_key"],
                            "msg": "was already used for a different response",
                            "type": "idempotency_conflict",
                        }
                    ]
                },
                status_code=409,
            )
        relay.wake()
        return receipt

    @app.get("/v1/outbox", tags=["operations"])
    async def outbox_status() -> dict[str, int]:
        """Responses accepted but not yet published to Kafka."""
        return {"pending": await runtime.require()[1].pending()}

    return app
