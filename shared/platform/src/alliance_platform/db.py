"""PostgreSQL plumbing: connection pools and schema creation.

Hot paths use asyncpg directly (batched, one transaction per batch); table definitions are
SQLAlchemy/SQLModel metadata so the writer services and the gateway share one description.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import asyncpg
from sqlalchemy import MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from alliance_platform.dbroles import READER_ROLE

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
    database_url: str,
    schema: str,
    tables: Sequence[Table],
    projection_version: int | None = None,
    readable: Sequence[Table] = (),
) -> None:
    """Creates the service's tables in its schema. An advisory lock serialises concurrent starts.

    The schema is the service's own: `alliance_platform.dbroles` creates it for the service's role
    (a superuser's URL, as some tests use, creates it here). Source data (intake) is additive
    only: CREATE ... IF NOT EXISTS. A projection (scoring, alerts) passes its
    `projection_version`: when the stored one differs, the schema's tables are dropped and
    created anew, and the service's consumer group (named after the version) replays the topics
    from the beginning. That is how a projection's shape changes: by a rebuild.

    `readable`: the tables the gateway may read (granted to dbroles.READER_ROLE, again after
    every rebuild).
    """
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('alliance-ddl'))"))
            stored = await conn.execute(
                text(
                    "SELECT coalesce(obj_description(oid, 'pg_namespace'), 'unversioned') "
                    "FROM pg_namespace WHERE nspname = :schema"
                ),
                {"schema": schema},
            )
            current = stored.scalar()  # None: no such schema yet
            if current is None:
                await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            if projection_version is not None:
                marker = f"projection version {projection_version}"
                if current not in (None, marker, "unversioned"):
                    log.warning(
                        "projection shape changed: rebuilding by replay",
                        extra={"schema": schema, "was": current, "now": marker},
                    )
                    await _drop_tables(conn, schema)
                await conn.execute(text(f"COMMENT ON SCHEMA \"{schema}\" IS '{marker}'"))
            await conn.run_sync(lambda sync: MetaData().create_all(sync, tables=list(tables)))
            if readable:
                await _grant_reads(conn, schema, readable)
    finally:
        await engine.dispose()


async def _drop_tables(conn: AsyncConnection, schema: str) -> None:
    """Empties the schema (its owner may; re-creating a schema would need more privilege)."""
    names = await conn.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"), {"schema": schema}
    )
    for (name,) in names.all():
        await conn.execute(text(f'DROP TABLE IF EXISTS "{schema}"."{name}" CASCADE'))


async def _grant_reads(conn: AsyncConnection, schema: str, tables: Sequence[Table]) -> None:
    if not (
        await conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": READER_ROLE})
    ).scalar():
        log.warning("no reader role: the gateway cannot read", extra={"schema": schema})
        return
    await conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO {READER_ROLE}'))
    names = ", ".join(f'"{schema}"."{t.name}"' for t in tables)
    await conn.execute(text(f"GRANT SELECT ON {names} TO {READER_ROLE}"))


async def ping(pool: asyncpg.Pool) -> bool:
    try:
        async with pool.acquire(timeout=2) as conn:
            return bool(await conn.fetchval("SELECT 1", timeout=2) == 1)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False


# Joins a query's table (with clinic_id and case_id columns) on the cases `fetch_for_cases` gets.
CASES_JOIN = (
    "JOIN unnest($1::text[], $2::text[]) AS c(clinic_id, case_id) USING (clinic_id, case_id)"
)


async def fetch_for_cases(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
    query: str,
    cases: Iterable[tuple[str, str]],
) -> list[asyncpg.Record]:
    """Runs `query`, which joins `CASES_JOIN`, for these (clinic id, case id) pairs: one
    statement for a whole batch of cases."""
    keys = list(cases)
    return await conn.fetch(query, [c for c, _ in keys], [k for _, k in keys])
