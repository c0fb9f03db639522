"""Gateway process: FastAPI with the GraphQL router (GraphiQL at /graphql) and health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.fastapi import GraphQLRouter

from alliance_gateway.entrypoints.schema import Context, schema
from alliance_gateway.settings import GatewaySettings
from alliance_shared.db import create_engine
from alliance_shared.health import health_router
from alliance_shared.kafka import kafka_reachable


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    engine = create_engine(settings.database_url, settings.db_pool_size, read_only=True)
    sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="Alliance gateway",
        version="1",
        description="GraphQL read API over the alliance read models. GraphiQL at /graphql.",
        lifespan=lifespan,
    )

    async def context() -> Context:
        return Context(sessions)

    app.include_router(GraphQLRouter(schema, context_getter=context), prefix="/graphql")

    async def db_up() -> bool:
        try:
            async with sessions() as session:
                return (await session.execute(text("SELECT 1"))).scalar() == 1
        except Exception:
            return False

    async def kafka_up() -> bool:
        return await kafka_reachable(settings.kafka_bootstrap_servers)

    app.include_router(health_router({"postgres": db_up, "kafka": kafka_up}))
    return app
