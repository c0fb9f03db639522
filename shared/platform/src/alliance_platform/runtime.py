"""The process shell shared by the projection services (scoring, alerts): a FastAPI app whose
lifespan runs the projection's generations (`alliance_platform.projector`) and, for what is not
part of the projection (alerts' webhook delivery), a pool, a relay and a broker of the service's
own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from alliance_contracts.access import Principal
from alliance_platform.broker import subscriptions
from alliance_platform.db import create_pool, ping
from alliance_platform.health import health_router
from alliance_platform.http_security import Authenticate, install
from alliance_platform.kafka import kafka_reachable
from alliance_platform.lag import report_lag
from alliance_platform.metrics import install_metrics
from alliance_platform.migrate import MigrationEnvironment, require_at_head
from alliance_platform.outbox_relay import OutboxRelay
from alliance_platform.pages import install_api_docs
from alliance_platform.projector import Projections, ProjectionSettings, ProjectionSpec
from alliance_platform.settings import CommonSettings


@dataclass
class Runtime:
    """What the lifespan opens for the service's own (non-projection) work; handlers reach the
    pool and relay through it."""

    pool: asyncpg.Pool | None = None
    relay: OutboxRelay | None = None

    def require(self) -> tuple[asyncpg.Pool, OutboxRelay]:
        if self.pool is None or self.relay is None:
            raise RuntimeError("service is not started")
        return self.pool, self.relay


def projection_settings(settings: CommonSettings, service: str) -> ProjectionSettings:
    return ProjectionSettings(
        database_url=settings.database_url,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        pool_size=settings.db_pool_size,
        client_id=f"{service}-relay",
        message_max_bytes=settings.kafka_message_max_bytes,
        switch_lag=settings.switch_lag,
        watch_seconds=settings.projection_watch_seconds,
    )


def projection_service_app(
    *,
    service: str,
    description: str,
    settings: CommonSettings,
    projection: ProjectionSpec,
    runtime: Runtime | None = None,
    outbox_schema: str | None = None,
    broker: KafkaBroker | None = None,
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    migrated: Sequence[MigrationEnvironment] = (),
    routers: Sequence[APIRouter] = (),
    authenticate: Authenticate[Principal] | None = None,
) -> FastAPI:
    """`projection`: the projection the service keeps (its generations run blue/green).
    The service's own work beside it, in schemas of record that are never rebuilt:
    `runtime` (a pool, and a relay for `outbox_schema`), `broker` (subscribers of its own),
    `background` (loops started with the service and cancelled at shutdown), `migrated` (those
    schemas: their migrations make them, the service only checks they are at head).
    `authenticate`: checks the bearer token of every request but health (needed with routers)."""
    if routers and authenticate is None:
        raise ValueError("an HTTP API needs authentication")
    if (runtime is None) != (outbox_schema is None):
        raise ValueError("a runtime of the service's own comes with its outbox schema")
    projections = Projections(projection, projection_settings(settings, service))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for environment in migrated:  # before any DDL: a service behind its schema stops here
            await require_at_head(settings.database_url, environment)
        if runtime is not None and outbox_schema is not None:
            runtime.pool = await create_pool(settings.database_url, settings.db_pool_size)
            runtime.relay = OutboxRelay(
                runtime.pool,
                outbox_schema,
                settings.kafka_bootstrap_servers,
                f"{service}-own-relay",
                max_message_bytes=settings.kafka_message_max_bytes,
            )
            runtime.relay.start()
        await projections.start()
        if broker is not None:
            await broker.start()
        tasks = [asyncio.create_task(loop()) for loop in background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if broker is not None:
                await broker.stop()
            await projections.stop()
            if runtime is not None and runtime.pool is not None:
                if runtime.relay is not None:
                    await runtime.relay.stop()
                await runtime.pool.close()

    app = FastAPI(
        title=f"Alliance {service}",
        version="1",
        description=description,
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
        docs_url=None,  # Swagger UI from the service's own files: install_api_docs
        redoc_url=None,
    )
    install_api_docs(app)
    app.state.projections = projections
    app.state.runtime = runtime
    if authenticate is not None:
        install(app, authenticate=authenticate, limiter=settings.limiter())
    scrape = install_metrics(app, settings.metrics_token_file)

    async def consumer_lag() -> None:
        brokers = [*projections.running_brokers(), *([broker] if broker is not None else [])]
        await report_lag(
            settings.kafka_bootstrap_servers, [s for b in brokers for s in subscriptions(b)]
        )

    async def outboxes() -> None:
        own = [runtime.relay] if runtime is not None and runtime.relay is not None else []
        for relay in [*projections.running_relays(), *own]:
            await relay.report()

    scrape.add("consumers", consumer_lag)
    scrape.add("outboxes", outboxes)

    async def db_up() -> bool:
        live = projections.live()
        if live is not None:
            return await ping(live.pool)
        return projections.ready

    async def kafka_up() -> bool:
        return await kafka_reachable(settings.kafka_bootstrap_servers)

    async def projection_running() -> bool:
        return projections.ready

    async def partitions() -> bool:
        return projections.consuming()

    app.include_router(
        health_router(
            {
                "postgres": db_up,
                "kafka": kafka_up,
                "projection": projection_running,
                "partitions": partitions,
            }
        )
    )
    for router in routers:
        app.include_router(router)
    return app


def asyncapi_spec(service: str, description: str) -> AsyncAPI:
    return AsyncAPI(title=f"Alliance {service}", version="1", description=description)
