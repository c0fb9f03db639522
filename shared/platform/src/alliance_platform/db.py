"""PostgreSQL plumbing: connection pools and schema creation.

Hot paths use asyncpg directly (batched, one transaction per batch); table definitions are
SQLAlchemy/SQLModel metadata so the writer services and the gateway share one description.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import asyncpg
import orjson
from sqlalchemy import MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)


def sqlalchemy_url(database_url: str) -> str:
    """`postgresql://...` (libpq style, as asyncpg takes it) to SQLAlchemy's asyncpg dialect."""
    scheme, _, rest = database_url.partition("://")
    if scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise ValueError("DATABASE_URL must start with postgresql://")
    return f"postgresql+asyncpg://{rest}"


async def _rollback_only(conn: asyncpg.Connection) -> None:
    """Nothing: asyncpg has already rolled back a transaction left open (`Connection._reset`)."""


async def create_pool(
    database_url: str,
    size: int,
    *,
    read_only: bool = False,
    search_path: str | None = None,
    session_state: bool = True,
) -> asyncpg.Pool:
    """`search_path`: the schema unqualified table names resolve to (a projection generation's
    slot, see `alliance_platform.projector`).

    `session_state=False` drops the round trip asyncpg makes on every release to reset a
    session (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL). Only for a pool whose users
    leave nothing in the session: locks and settings scoped to the transaction (`_xact_` locks,
    `SET LOCAL`), no LISTEN, no cursors WITH HOLD; the server settings here are set when the
    connection opens and outlive a reset anyway. An open transaction is still rolled back."""
    settings = {"application_name": "alliance", "timezone": "UTC"}
    if search_path is not None:
        settings["search_path"] = f'"{search_path}"'
    if read_only:
        # The gateway writes nothing but events: its sessions refuse writes outright.
        settings["default_transaction_read_only"] = "on"
    pool = await asyncpg.create_pool(
        database_url,
        min_size=1,
        max_size=size,
        server_settings=settings,
        command_timeout=30,
        reset=None if session_state else _rollback_only,
    )
    assert pool is not None
    return pool


def create_engine(
    database_url: str, size: int, *, read_only: bool = False, pre_ping: bool = True
) -> AsyncEngine:
    """`pre_ping`: test each connection as it leaves the pool (with asyncpg, three round trips:
    BEGIN, a ping, ROLLBACK). Without it, a connection the server dropped fails the one
    statement that finds it, and the pool is then refreshed."""
    settings = {"timezone": "UTC"}
    if read_only:
        settings["default_transaction_read_only"] = "on"
    return create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=size,
        pool_pre_ping=pre_ping,
        connect_args={"server_settings": settings},
    )


async def create_schema(database_url: str, schema: str, tables: Sequence[Table]) -> None:
    """Creates the tables that are missing in a schema (CREATE ... IF NOT EXISTS). An advisory
    lock serialises concurrent starts.

    For a projection generation's slot (`alliance_platform.projector`: a projection changes
    shape by a new generation, never in place) and for tests. The schema is its owner's:
    `alliance_platform.dbroles` creates it (a superuser's URL, as some tests use, creates it
    here). Systems of record change by their migrations (`alliance_platform.migrate`).
    """
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('alliance-ddl'))"))
            exists = await conn.execute(
                text("SELECT 1 FROM pg_namespace WHERE nspname = :schema"), {"schema": schema}
            )
            if exists.scalar() is None:  # (IF NOT EXISTS would still need the right to create)
                await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            await conn.run_sync(lambda sync: MetaData().create_all(sync, tables=list(tables)))
    finally:
        await engine.dispose()


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


def json_rows(*columns: str) -> str:
    """The FROM item of an `execute_rows` query: its rows as `r`, with the columns named and
    typed as given ("case_id text", "state jsonb": a JSON document given as text, "value bytea":
    text stored as its UTF-8 bytes) and `r.n`, each row's place in the list (from 1)."""
    fields = []
    for i, column in enumerate(columns):
        name, sql_type = column.split(maxsplit=1)
        field = f"j.e->>{i}"
        if sql_type == "bytea":
            fields.append(f"convert_to({field}, 'UTF8') AS {name}")
        else:
            fields.append(f"({field})::{sql_type} AS {name}")
    return (
        f"(SELECT {', '.join(fields)}, j.n FROM jsonb_array_elements($1::jsonb) "
        "WITH ORDINALITY AS j(e, n)) AS r"
    )


async def execute_rows(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
    query: str,
    rows: Sequence[Sequence[object]],
    *more: object,
) -> None:
    """Runs `query` once for all the rows: it reads them from `json_rows(...)`, sent as one JSON
    parameter ($1; `more` are the parameters after it). One statement instead of one per row
    (as `executemany` makes); nothing is run for no rows. Each row is a JSON array, made by
    orjson in C: asyncpg's arrays (one per column, through `unnest`) check every element in
    Python. Values: str, int, float, bool, None, UUID, datetime (a naive one is UTC), and JSON
    documents as text."""
    if rows:
        await conn.execute(query, orjson.dumps(rows, option=orjson.OPT_NAIVE_UTC).decode(), *more)


async def fetch_for_cases(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
    query: str,
    cases: Iterable[tuple[str, str]],
) -> list[asyncpg.Record]:
    """Runs `query`, which joins `CASES_JOIN`, for these (clinic id, case id) pairs: one
    statement for a whole batch of cases."""
    keys = list(cases)
    return await conn.fetch(query, [c for c, _ in keys], [k for _, k in keys])
