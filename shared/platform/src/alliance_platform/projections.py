"""Blue/green projections: two slots per projection, and stable views that readers name.

A projection (scoring, alerts) owns three schemas, all created by `dbroles`:

- `<projection>`: what readers name. It holds the catalog (`generation`) and one view per read
  model (`scoring.dyad` is `SELECT * FROM scoring_blue.dyad`, say).
- `<projection>_blue` and `<projection>_green`: the slots. A slot holds one generation's tables:
  its read models and its plumbing (tracking positions, outbox, case state, ...).

A generation is one build of the projection from the log: a number, the projection version of
the code that builds it, a slot and a state. One generation is `live` (the views point at its
slot). A new one (a new projection version, or `alliance rebuild`) is `building` in the other
slot, with a consumer group of its own, while the live one keeps serving and updating. Once it
has caught up, `switch` re-points the views in one transaction: readers see the old generation
or the new one, never an empty or half-built one. The old generation is then `retired`; its
slot is emptied when the next generation takes it. A `verifying` generation is a throwaway
build compared with the live one (`alliance verify`) and never goes live.

Writers fence themselves with `current`: a process whose generation is no longer building, live
or verifying stops writing (an old replica in a rolling deploy never writes into a slot that a
newer generation has taken).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import asyncpg

from alliance_platform.dbroles import READER_ROLE

log = logging.getLogger(__name__)

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

SLOTS = ("blue", "green")


class GenerationState(enum.StrEnum):
    BUILDING = "building"
    LIVE = "live"
    RETIRED = "retired"
    VERIFYING = "verifying"
    DROPPED = "dropped"  # its slot was emptied for a later generation


class Purpose(enum.StrEnum):
    INSTALL = "install"  # the first generation of a new database: live from the start
    ADOPTED = "adopted"  # tables of the single-schema layout (before blue/green), moved to a slot
    UPGRADE = "upgrade"  # a new projection version, started by the new code
    REBUILD = "rebuild"  # the same version again, started by an operator
    VERIFY = "verify"  # a throwaway copy compared with the live one


ACTIVE = (GenerationState.BUILDING, GenerationState.LIVE, GenerationState.VERIFYING)


class CatalogError(Exception):
    """A catalog change that would break the rules (e.g. both slots are in use)."""


@dataclass(frozen=True)
class Generation:
    projection: str
    number: int
    version: int
    slot: str
    state: GenerationState
    purpose: Purpose
    created_at: datetime
    live_since: datetime | None
    topics: tuple[str, ...]  # what it consumes (its lag is measured on these)
    group: str  # its consumer group (unique, so that databases sharing a cluster never meet)

    @property
    def schema(self) -> str:
        """The slot's schema, where this generation's tables are."""
        return slot_schema(self.projection, self.slot)


def slot_schema(projection: str, slot: str) -> str:
    return f"{projection}_{slot}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


T = TypeVar("T")
# How long a switch waits for readers of the views before it lets them go and tries again: well
# under PostgreSQL's deadlock_timeout (1 s), so a reader holding one view and waiting for the
# next is never the one a deadlock aborts.
LOCK_TIMEOUT = "200ms"
LOCK_ATTEMPTS = 300


async def _between_readers(conn: Connection, work: Callable[[], Awaitable[T]]) -> T:
    """Runs `work` in a transaction that takes its locks within LOCK_TIMEOUT, else rolls back
    and tries again: DDL on the views (or on tables readers use) waits for the readers of the
    moment only briefly, and never holds them up for longer."""
    for attempt in range(LOCK_ATTEMPTS):
        try:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                return await work()
        except (asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError):
            await asyncio.sleep(0.05 + 0.01 * min(attempt, 20))
    raise CatalogError("the views stayed in use: try again when reads are fewer")


def _lock(projection: str) -> str:
    return f"SELECT pg_advisory_xact_lock(hashtext('alliance-projection-{projection}'))"


_COLUMNS = "number, version, slot, state, purpose, created_at, live_since, topics, group_id"


def _generation(projection: str, row: asyncpg.Record) -> Generation:
    return Generation(
        projection=projection,
        number=row["number"],
        version=row["version"],
        slot=row["slot"],
        state=GenerationState(row["state"]),
        purpose=Purpose(row["purpose"]),
        created_at=row["created_at"],
        live_since=row["live_since"],
        topics=tuple(row["topics"]),
        group=row["group_id"],
    )


def _group(projection: str, number: int) -> str:
    """A generation reads its topics from its tracked positions (the start, for a new one);
    the suffix keeps two databases on one cluster (a test's throwaway one) apart."""
    return f"{projection}-g{number}-{secrets.token_hex(3)}"


async def ensure_catalog(
    conn: Connection, projection: str, read_models: Sequence[str], topics: Sequence[str]
) -> None:
    """Creates the catalog; moves the tables of the single-schema layout into the blue slot as
    the live generation, behind views (once, so upgrading to blue/green shows readers the old
    projection until the new one has caught up)."""
    await _between_readers(conn, lambda: _ensure_catalog(conn, projection, read_models, topics))


async def _ensure_catalog(
    conn: Connection, projection: str, read_models: Sequence[str], topics: Sequence[str]
) -> None:
    await conn.execute(_lock(projection))
    stable = _ident(projection)
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS {stable}.generation ("
        "number integer PRIMARY KEY, version integer NOT NULL, "
        "slot text NOT NULL CHECK (slot IN ('blue', 'green')), state text NOT NULL, "
        "purpose text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), "
        "live_since timestamptz, retired_at timestamptz, topics text[] NOT NULL, "
        "group_id text NOT NULL)"
    )
    await conn.execute(
        f"CREATE UNIQUE INDEX IF NOT EXISTS generation_one_live ON {stable}.generation "
        "((true)) WHERE state = 'live'"
    )
    if await conn.fetchval(f"SELECT count(*) FROM {stable}.generation"):
        return
    legacy = await _base_tables(conn, projection, exclude=("generation",))
    if not legacy:
        return
    version = await _legacy_version(conn, projection)
    target = slot_schema(projection, SLOTS[0])
    for table in legacy:
        await conn.execute(f"ALTER TABLE {stable}.{_ident(table)} SET SCHEMA {_ident(target)}")
    await conn.execute(
        f"INSERT INTO {stable}.generation "
        "(number, version, slot, state, purpose, live_since, topics, group_id) "
        "VALUES (1, $1, $2, 'live', 'adopted', now(), $3, $4)",
        version,
        SLOTS[0],
        list(topics),
        _group(projection, 1),
    )
    await point_views(conn, projection, SLOTS[0], read_models)
    log.warning(
        "moved the projection's tables into its blue slot",
        extra={"projection": projection, "version": version, "tables": len(legacy)},
    )


async def _base_tables(conn: Connection, schema: str, exclude: Sequence[str] = ()) -> list[str]:
    rows = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", schema
    )
    return [r["tablename"] for r in rows if r["tablename"] not in exclude]


async def _legacy_version(conn: Connection, projection: str) -> int:
    """The version `COMMENT ON SCHEMA` recorded in the single-schema layout (0: unknown)."""
    comment = await conn.fetchval(
        "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = $1",
        projection,
    )
    prefix = "projection version "
    if isinstance(comment, str) and comment.startswith(prefix):
        return int(comment.removeprefix(prefix))
    return 0


async def generations(conn: Connection, projection: str) -> list[Generation]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM {_ident(projection)}.generation ORDER BY number"
    )
    return [_generation(projection, r) for r in rows]


async def live_generation(conn: Connection, projection: str) -> Generation | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM {_ident(projection)}.generation WHERE state = 'live'"
    )
    return _generation(projection, row) if row else None


async def current(conn: Connection, projection: str, number: int) -> bool:
    """Whether generation `number` may still write (the writer's fence: call it in the writer's
    transaction; the row stays share-locked until it commits, so a `begin` that takes the slot
    waits for it)."""
    state = await conn.fetchval(
        f"SELECT state FROM {_ident(projection)}.generation WHERE number = $1 FOR SHARE", number
    )
    return state in ACTIVE


async def begin(
    conn: Connection,
    projection: str,
    version: int,
    purpose: Purpose,
    topics: Sequence[str],
) -> Generation:
    """A new generation in the slot the live one does not use, emptied first.

    The first generation of a projection goes live at once (`install`: there is nothing older
    to serve; call `point_views` once its tables exist). Refused while another generation is
    building or verifying (one rebuild at a time), except for an `upgrade`: it returns the
    upgrade already under way for the same version, or the live generation once it is that
    version (every replica of the new code asks on start, and may have read the catalog
    before another replica installed it), and takes the slot from a build of an older
    version."""
    async with conn.transaction():
        await conn.execute(_lock(projection))
        stable = _ident(projection)
        live = await live_generation(conn, projection)
        if purpose is Purpose.UPGRADE and live is not None and live.version == version:
            return live  # another replica installed or switched this version meanwhile
        others = [
            g
            for g in await generations(conn, projection)
            if g.state in (GenerationState.BUILDING, GenerationState.VERIFYING)
        ]
        for other in others:
            if purpose is other.purpose is Purpose.UPGRADE and other.version == version:
                return other
            if not (purpose is Purpose.UPGRADE and other.version < version):
                raise CatalogError(
                    f"generation {other.number} of {projection} is {other.state} in slot "
                    f"{other.slot}: wait for it or cancel it first"
                )
        slot = SLOTS[0] if live is None else next(s for s in SLOTS if s != live.slot)
        await drop_slot_tables(conn, projection, slot)
        await conn.execute(
            f"UPDATE {stable}.generation SET state = 'dropped' "
            "WHERE slot = $1 AND state <> 'dropped'",
            slot,
        )
        number = await conn.fetchval(
            f"SELECT coalesce(max(number), 0) + 1 FROM {stable}.generation"
        )
        state = GenerationState.LIVE if live is None else GenerationState.BUILDING
        if purpose is Purpose.VERIFY:
            state = GenerationState.VERIFYING
        row = await conn.fetchrow(
            f"INSERT INTO {stable}.generation "
            "(number, version, slot, state, purpose, live_since, topics, group_id) "
            "VALUES ($1, $2, $3, $4, $5, CASE WHEN $4 = 'live' THEN now() END, $6, $7) "
            f"RETURNING {_COLUMNS}",
            number,
            version,
            slot,
            state.value,
            (Purpose.INSTALL if live is None and purpose is not Purpose.VERIFY else purpose).value,
            list(topics),
            _group(projection, number),
        )
        assert row is not None  # INSERT ... RETURNING
        generation = _generation(projection, row)
        log.info(
            "projection generation begun",
            extra={
                "projection": projection,
                "generation": number,
                "slot": slot,
                "state": state.value,
            },
        )
        return generation


async def point_views(
    conn: Connection,
    projection: str,
    slot: str,
    read_models: Sequence[str],
    *,
    adding_from: str | None = None,
) -> None:
    """(Re)creates the stable views over a slot's read models, readable by the reader role.
    Call it in a transaction: readers then see the old views or the new ones, never none.
    Under the projection's lock: replicas starting together each point the views, and two
    concurrent GRANTs on one schema fail ("tuple concurrently updated").

    `adding_from`: the slot of a newer version building beside this one. Its tables' columns
    that this slot's lack are added to the views as typed NULLs, so readers of the new release
    work before the switch (and readers of the old one still do: no column is taken away until
    the switch points the views at the new slot)."""
    await conn.execute(_lock(projection))
    stable, source = _ident(projection), _ident(slot_schema(projection, slot))
    existing = await conn.fetch(
        "SELECT viewname FROM pg_views WHERE schemaname = $1 AND viewname = ANY($2::text[])",
        projection,
        list(read_models),
    )
    if existing:  # all at once, so that the swap holds them only for its own statements
        views = ", ".join(f"{stable}.{_ident(r['viewname'])}" for r in existing)
        await conn.execute(f"LOCK TABLE {views} IN ACCESS EXCLUSIVE MODE")
    has_reader = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", READER_ROLE)
    if has_reader:
        await conn.execute(f"GRANT USAGE ON SCHEMA {stable} TO {READER_ROLE}")
    for name in read_models:
        view = f"{stable}.{_ident(name)}"
        added = "".join(
            f", NULL::{kind} AS {_ident(column)}"
            for column, kind in await _columns_missing(conn, projection, name, slot, adding_from)
        )
        # DROP + CREATE, not CREATE OR REPLACE: a new version may change the columns.
        await conn.execute(f"DROP VIEW IF EXISTS {view}")
        await conn.execute(f"CREATE VIEW {view} AS SELECT *{added} FROM {source}.{_ident(name)}")
        if has_reader:
            await conn.execute(f"GRANT SELECT ON {view} TO {READER_ROLE}")


async def _columns_missing(
    conn: Connection, projection: str, table: str, slot: str, newer: str | None
) -> list[tuple[str, str]]:
    """The columns (name, SQL type) of `table` in the `newer` slot that it lacks in `slot`."""
    if newer is None:
        return []
    rows = await conn.fetch(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS kind "
        "FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 "
        "AND NOT a.attisdropped AND a.attname NOT IN (SELECT b.attname FROM pg_attribute b "
        "WHERE b.attrelid = to_regclass($2) AND b.attnum > 0 AND NOT b.attisdropped) "
        "ORDER BY a.attnum",
        f"{_ident(slot_schema(projection, newer))}.{_ident(table)}",
        f"{_ident(slot_schema(projection, slot))}.{_ident(table)}",
    )
    return [(r["attname"], r["kind"]) for r in rows]


async def switch(
    conn: Connection, projection: str, number: int, read_models: Sequence[str]
) -> Generation:
    """Makes a building generation live: the views point at its slot, the old live one is
    retired. One transaction (tried again while readers hold the views)."""
    return await _between_readers(conn, lambda: _switch(conn, projection, number, read_models))


async def _switch(
    conn: Connection, projection: str, number: int, read_models: Sequence[str]
) -> Generation:
    await conn.execute(_lock(projection))
    stable = _ident(projection)
    target = next((g for g in await generations(conn, projection) if g.number == number), None)
    if target is None or target.state is not GenerationState.BUILDING:
        state = "missing" if target is None else target.state.value
        raise CatalogError(f"generation {number} of {projection} is {state}, not building")
    live = await live_generation(conn, projection)
    if live is not None and live.version > target.version:
        raise CatalogError(
            f"generation {number} builds version {target.version}, older than the live "
            f"version {live.version}"
        )
    await point_views(conn, projection, target.slot, read_models)
    await conn.execute(
        f"UPDATE {stable}.generation SET state = 'retired', retired_at = now() WHERE state = 'live'"
    )
    row = await conn.fetchrow(
        f"UPDATE {stable}.generation SET state = 'live', live_since = now() "
        f"WHERE number = $1 RETURNING {_COLUMNS}",
        number,
    )
    assert row is not None  # the target row exists: read under the same lock
    log.info(
        "projection switched",
        extra={
            "projection": projection,
            "generation": number,
            "was": live.number if live else None,
        },
    )
    return _generation(projection, row)


async def repoint(
    conn: Connection,
    projection: str,
    slot: str,
    read_models: Sequence[str],
    *,
    adding_from: str | None = None,
) -> None:
    """`point_views` in a transaction of its own (tried again while readers hold the views)."""
    await _between_readers(
        conn,
        lambda: point_views(conn, projection, slot, read_models, adding_from=adding_from),
    )


async def cancel(conn: Connection, projection: str, number: int) -> None:
    """Gives up a building or verifying generation: its slot is emptied."""
    async with conn.transaction():
        await conn.execute(_lock(projection))
        target = next((g for g in await generations(conn, projection) if g.number == number), None)
        if target is None or target.state not in (
            GenerationState.BUILDING,
            GenerationState.VERIFYING,
        ):
            raise CatalogError(f"generation {number} of {projection} is not being built")
        await conn.execute(
            f"UPDATE {_ident(projection)}.generation SET state = 'dropped' WHERE number = $1",
            number,
        )
        await drop_slot_tables(conn, projection, target.slot)


async def drop_slot_tables(conn: Connection, projection: str, slot: str) -> None:
    """Empties a slot (its owner may; dropping the schema would need more privilege)."""
    schema = slot_schema(projection, slot)
    for table in await _base_tables(conn, schema):
        await conn.execute(f"DROP TABLE IF EXISTS {_ident(schema)}.{_ident(table)} CASCADE")
