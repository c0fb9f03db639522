"""The process shell shared by the consumer services (scoring, alerts): a FastAPI app whose
lifespan owns the PostgreSQL pool, the outbox relay and the FastStream broker."""

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
from sqlalchemy import Table

from alliance_contracts.access import Principal
from alliance_platform.db import create_pool, create_schema, ping
from alliance_platform.health import health_router
from alliance_platform.http_security import Authenticate, install
from alliance_platform.migrate import MigrationEnvironment, require_at_head
from alliance_platform.outbox_relay import OutboxRelay
from alliance_platform.settings import CommonSettings


@dataclass
class Runtime:
    """What the lifespan opens; handlers reach the pool and relay through it."""

    pool: asyncpg.Pool | None = None
    relay: OutboxRelay | None = None

    def require(self) -> tuple[asyncpg.Pool, OutboxRelay]:
        if self.pool is None or self.relay is None:
            raise RuntimeError("service is not started")
        return self.pool, self.relay


def consumer_service_app(
    *,
    service: str,
    description: str,
    settings: CommonSettings,
    schema: str,
    tables: Sequence[Table],
    read_models: Sequence[Table],
    projection_version: int,
    broker: KafkaBroker,
    runtime: Runtime,
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    migrated: Sequence[MigrationEnvironment] = (),
    routers: Sequence[APIRouter] = (),
    authenticate: Authenticate[Principal] | None = None,
) -> FastAPI:
    """`background`: long-running loops started with the service and cancelled at shutdown.
    `read_models`: the tables of `schema` the gateway may read.
    `migrated`: schemas of record beside the projection, never rebuilt: their migrations make
    them (alliance_platform.migrate); the service only checks they are at head.
    `authenticate`: checks the bearer token of every request but health (needed with routers)."""
    if routers and authenticate is None:
        raise ValueError("an HTTP API needs authentication")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for environment in migrated:  # before any DDL: a service behind its schema stops here
            await require_at_head(settings.database_url, environment)
        await create_schema(
            settings.database_url, schema, tables, projection_version, readable=read_models
        )
        runtime.pool = await create_pool(settings.database_url, settings.db_pool_size)
        runtime.relay = OutboxRelay(
            runtime.pool,
            schema,
            settings.kafka_bootstrap_servers,
            f"{service}-relay",
            max_message_bytes=settings.kafka_message_max_bytes,
        )
        runtime.relay.start()
        await broker.start()
        tasks = [asyncio.create_task(loop()) for loop in background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await broker.stop()  # finishes the batch in hand first
            await runtime.relay.stop()
            await runtime.pool.close()

    app = FastAPI(
        title=f"Alliance {service}",
        version="1",
        description=description,
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
    )
    app.state.runtime = runtime
    if authenticate is not None:
        install(app, authenticate=authenticate, limiter=settings.limiter())

    async def db_up() -> bool:
        return runtime.pool is not None and await ping(runtime.pool)

    async def kafka_up() -> bool:
        return await broker.ping(timeout=2)

    app.include_router(health_router({"postgres": db_up, "kafka": kafka_up}))
    for router in routers:
        app.include_router(router)
    return app


def asyncapi_spec(service: str, description: str) -> AsyncAPI:
    return AsyncAPI(title=f"Alliance {service}", version="1", description=description)
