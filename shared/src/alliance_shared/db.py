"""PostgreSQL plumbing: connection pools and schema creation.

Hot paths use asyncpg directly (batched, one transaction per batch); table definitions are
SQLAlchemy/SQLModel metadata so the writer services and the gateway share one description.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import asyncpg
from sqlalchemy import MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)


def sqlalchemy_url(database_url: str) -> str:
    """`postgresql://...` (libpq style, as asyncpg takes it) to SQLAlchemy's asyncpg dialect."""
    scheme, _, rest = database_url.partition("://")
    if scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise ValueError("DATABASE_URL must start with postgresql://")
    return f"postgresql+asyncpg://{rest}"


async def create_pool(database_url: str, size: int, *, read_only: bool = False) -> asyncpg.Pool:
    settings = {"application_name": "alliance", "timezone": "UTC"}
    if read_only:
        # The gateway writes nothing but events: its sessions refuse writes outright.
        settings["default_transaction_read_only"] = "on"
    pool = await asyncpg.create_pool(
        database_url, min_size=1, max_size=size, server_settings=settings, command_timeout=30
    )
    assert pool is not None
    return pool


def create_engine(database_url: str, size: int, *, read_only: bool = False) -> AsyncEngine:
    settings = {"timezone": "UTC"}
    if read_only:
        settings["default_transaction_read_only"] = "on"
    return create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=size,
        pool_pre_ping=True,
        connect_args={"server_settings": settings},
    )


async def create_schema(
    database_url: str, schema: str, tables: Sequence[Table], projection_version: int | None = None
) -> None:
    """Creates the service's schema and tables. An advisory lock serialises concurrent starts.

    Source data (intake) is additive only: CREATE ... IF NOT EXISTS. A projection (scoring,
    alerts) passes its `projection_version`: when the stored one differs, the schema is dropped
    and created anew, and the service's consumer group (named after the version) replays the
    topics from the beginning. That is how a projection's shape changes: by a rebuild.
    """
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('alliance-ddl'))"))
            if projection_version is not None:
                stored = await conn.execute(
                    text(
                        "SELECT coalesce(obj_description(oid, 'pg_namespace'), 'unversioned') "
                        "FROM pg_namespace WHERE nspname = :schema"
                    ),
                    {"schema": schema},
                )
                marker = f"projection version {projection_version}"
                current = stored.scalar()  # None: no such schema yet
                if current is not None and current != marker:
                    log.warning(
                        "projection shape changed: rebuilding by replay",
                        extra={"schema": schema, "was": current, "now": marker},
                    )
                    await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            if projection_version is not None:
                await conn.execute(text(f"COMMENT ON SCHEMA \"{schema}\" IS '{marker}'"))
            await conn.run_sync(lambda sync: MetaData().create_all(sync, tables=list(tables)))
    finally:
        await engine.dispose()


async def ping(pool: asyncpg.Pool) -> bool:
    try:
        async with pool.acquire(timeout=2) as conn:
            return bool(await conn.fetchval("SELECT 1", timeout=2) == 1)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
