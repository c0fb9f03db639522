"""The blue/green catalog on real PostgreSQL: generations, slots, the view switch and the fence.

Uses projections of its own (schemas made here, as `dbroles` makes them for scoring and
alerts), so it never touches a running service's tables.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from alliance_platform import projections
from alliance_platform.dbroles import READER_ROLE
from alliance_platform.projections import CatalogError, GenerationState, Purpose

READ_MODELS = ("dyad",)
TOPICS = ("alliance.responses.v1",)


@pytest.fixture
async def name(pg: asyncpg.Pool) -> AsyncIterator[str]:
    """A projection of the test's own: its stable schema and its two slots."""
    name = f"catalog_{uuid.uuid4().hex[:8]}"
    schemas = (name, f"{name}_blue", f"{name}_green")
    for schema in schemas:
        await pg.execute(f'CREATE SCHEMA "{schema}"')
    yield name
    for schema in schemas:
        await pg.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def _fill(
    conn: projections.Connection, schema: str, rows: int, *, extra: bool = False
) -> None:
    column = ", note text" if extra else ""
    await conn.execute(f'CREATE TABLE "{schema}".dyad (dyad_id int PRIMARY KEY, score int{column})')
    await conn.execute(
        f'INSERT INTO "{schema}".dyad (dyad_id, score) SELECT i, i FROM generate_series(1, $1) i',
        rows,
    )


async def test_generations_switch_views_atomically_and_fence_old_writers(
    pg: asyncpg.Pool, name: str
) -> None:
    async with pg.acquire() as conn:
        await projections.ensure_catalog(conn, name, READ_MODELS, TOPICS)
        first = await projections.begin(conn, name, 1, Purpose.UPGRADE, TOPICS)
        assert (first.number, first.slot, first.state, first.purpose) == (
            1,
            "blue",
            GenerationState.LIVE,
            Purpose.INSTALL,
        )
        assert first.group.startswith(f"{name}-g1-")
        # A replica of the same code that read the catalog before this install asks too: it
        # gets the live generation, not a rebuild of the same version beside it.
        assert await projections.begin(conn, name, 1, Purpose.UPGRADE, TOPICS) == first
        await _fill(conn, first.schema, 100)
        async with conn.transaction():
            await projections.point_views(conn, name, first.slot, READ_MODELS)
        assert await conn.fetchval(f'SELECT count(*) FROM "{name}".dyad') == 100
        assert await conn.fetchval(
            "SELECT has_table_privilege($1, $2, 'SELECT')", READER_ROLE, f'"{name}".dyad'
        )

        upgrade = await projections.begin(conn, name, 2, Purpose.UPGRADE, TOPICS)
        assert (upgrade.number, upgrade.slot, upgrade.state) == (2, "green", "building")
        # Every replica of the new code asks; they all get the one upgrade under way.
        assert await projections.begin(conn, name, 2, Purpose.UPGRADE, TOPICS) == upgrade
        with pytest.raises(CatalogError, match="building"):
            await projections.begin(conn, name, 2, Purpose.REBUILD, TOPICS)
        await _fill(conn, upgrade.schema, 100, extra=True)
        # While it builds, the live views show its new column as NULL and keep the old ones.
        await projections.repoint(conn, name, first.slot, READ_MODELS, adding_from=upgrade.slot)
        widened = await conn.fetch(
            f'SELECT dyad_id, score, note, pg_typeof(note)::text AS kind FROM "{name}".dyad'
        )
        assert len(widened) == 100
        assert {(r["note"], r["kind"]) for r in widened} == {(None, "text")}

    # Readers in a loop see the old generation or the new one, never an error or an empty view.
    seen: list[int] = []
    stop = asyncio.Event()

    async def read_in_a_loop() -> None:
        async with pg.acquire() as reader:
            while not stop.is_set():
                seen.append(await reader.fetchval(f'SELECT count(*) FROM "{name}".dyad'))

    readers = [asyncio.create_task(read_in_a_loop()) for _ in range(2)]
    await asyncio.sleep(0.2)
    async with pg.acquire() as conn:
        live = await projections.switch(conn, name, upgrade.number, READ_MODELS)
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.gather(*readers)
        assert live.state is GenerationState.LIVE
        assert len(seen) > 10
        assert set(seen) == {100}
        # The new version's columns show through the re-created view.
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = $1 AND table_name = 'dyad'",
            name,
        )
        assert "note" in {c["column_name"] for c in columns}
        states = {g.number: g.state for g in await projections.generations(conn, name)}
        assert states == {1: GenerationState.RETIRED, 2: GenerationState.LIVE}
        async with conn.transaction():
            assert not await projections.current(conn, name, 1)
            assert await projections.current(conn, name, 2)

        # A rebuild takes the retired slot and empties it; an older version never goes live.
        rebuild = await projections.begin(conn, name, 2, Purpose.REBUILD, TOPICS)
        assert (rebuild.number, rebuild.slot) == (3, "blue")
        assert await conn.fetchval("SELECT to_regclass($1)", f'"{first.schema}".dyad') is None
        await projections.cancel(conn, name, rebuild.number)
        downgrade = await projections.begin(conn, name, 1, Purpose.UPGRADE, TOPICS)
        with pytest.raises(CatalogError, match="older than the live version"):
            await projections.switch(conn, name, downgrade.number, READ_MODELS)
        assert await conn.fetchval(f'SELECT count(*) FROM "{name}".dyad') == 100


async def test_the_single_schema_layout_is_adopted_as_the_live_generation(
    pg: asyncpg.Pool, name: str
) -> None:
    async with pg.acquire() as conn:
        await _fill(conn, name, 7)
        await conn.execute(f"COMMENT ON SCHEMA \"{name}\" IS 'projection version 8'")
        await projections.ensure_catalog(conn, name, READ_MODELS, TOPICS)
        await projections.ensure_catalog(conn, name, READ_MODELS, TOPICS)  # idempotent

        live = await projections.live_generation(conn, name)
        assert live is not None
        assert (live.number, live.version, live.slot, live.purpose) == (
            1,
            8,
            "blue",
            Purpose.ADOPTED,
        )
        # The rows moved, untouched, and readers still find them under the stable name.
        assert await conn.fetchval(f'SELECT count(*) FROM "{name}_blue".dyad') == 7
        assert await conn.fetchval(f'SELECT count(*) FROM "{name}".dyad') == 7
        kind = await conn.fetchval(
            "SELECT c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relname = 'dyad'",
            name,
        )
        assert kind == "v"


async def test_replicas_starting_together_point_the_views_one_at_a_time(
    pg: asyncpg.Pool, name: str
) -> None:
    """Every replica points the views at the live slot when it starts. Concurrent GRANTs on one
    schema fail in PostgreSQL ("tuple concurrently updated"): they take turns."""
    async with pg.acquire() as conn:
        await projections.ensure_catalog(conn, name, READ_MODELS, TOPICS)
        live = await projections.begin(conn, name, 1, Purpose.UPGRADE, TOPICS)
        await _fill(conn, live.schema, 10)

    async def replica() -> None:
        async with pg.acquire() as conn:
            await projections.repoint(conn, name, live.slot, READ_MODELS)

    for _ in range(20):  # as at a first start: no view yet, so nothing to lock them on
        await pg.execute(f'DROP VIEW IF EXISTS "{name}".dyad')
        await asyncio.gather(*(replica() for _ in range(4)))
    assert await pg.fetchval(f'SELECT count(*) FROM "{name}".dyad') == 10
