"""`alliance status`: what an operator looks at first.

Everything is discovered from the database, so the CLI needs no list of services: a projection
is a schema with a `generation` catalog; an outbox is a table named `outbox`; parked records are
tables named `parked` (waiting inputs) and `outbox_parked` (unpublishable outputs). Lag is
Kafka's end offsets against the positions each generation tracked in its own slot.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg

from alliance_cli.engines import KAFKA_ERRORS, Engines
from alliance_contracts.topics import DEAD_LETTER
from alliance_platform import projections
from alliance_platform.lag import log_bounds, partition_lags, tracked_positions


@dataclass(frozen=True)
class PartitionRow:
    topic: str
    partition: int
    position: int
    end: int
    lag: int


@dataclass(frozen=True)
class GenerationRow:
    number: int
    version: int
    slot: str
    state: str
    purpose: str
    group: str
    lag: int
    partitions: list[PartitionRow] = field(default_factory=list)


@dataclass(frozen=True)
class ProjectionRow:
    projection: str
    live: int | None
    generations: list[GenerationRow]


@dataclass(frozen=True)
class OutboxRow:
    schema: str
    backlog: int
    oldest_age_seconds: float | None
    parked: int


@dataclass(frozen=True)
class ParkedRow:
    schema: str
    records: int
    oldest_age_seconds: float | None


@dataclass(frozen=True)
class Status:
    projections: list[ProjectionRow]
    outboxes: list[OutboxRow]
    parked: list[ParkedRow]
    dead_letters: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def _schemas_with(conn: asyncpg.Connection, table: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT schemaname FROM pg_tables WHERE tablename = $1 ORDER BY schemaname", table
    )
    return [r["schemaname"] for r in rows]


async def gather(engines: Engines) -> Status:
    async with engines.database() as conn:
        catalogs = await _schemas_with(conn, "generation")
        found: list[tuple[projections.Generation, dict[tuple[str, int], int]]] = []
        for projection in catalogs:
            for generation in await projections.generations(conn, projection):
                if generation.state is not projections.GenerationState.DROPPED:
                    found.append((generation, await tracked_positions(conn, generation.schema)))
        outboxes = [await _outbox(conn, schema) for schema in await _schemas_with(conn, "outbox")]
        parked = [await _parked(conn, schema) for schema in await _schemas_with(conn, "parked")]
    topics = {DEAD_LETTER.name} | {topic for generation, _ in found for topic in generation.topics}
    try:
        first, end = await log_bounds(engines.kafka_bootstrap_servers, sorted(topics))
    except KAFKA_ERRORS as exc:
        raise engines.kafka_error(exc) from None
    rows: dict[str, list[GenerationRow]] = {name: [] for name in catalogs}
    for generation, tracked in found:
        consumed = {tp for tp in end if tp[0] in generation.topics}
        lags = partition_lags(first, {tp: end[tp] for tp in consumed}, tracked)
        rows[generation.projection].append(
            GenerationRow(
                number=generation.number,
                version=generation.version,
                slot=generation.slot,
                state=generation.state.value,
                purpose=generation.purpose.value,
                group=generation.group,
                lag=sum(p.lag for p in lags),
                partitions=[
                    PartitionRow(p.topic, p.partition, p.position, p.end, p.lag) for p in lags
                ],
            )
        )
    dead = sum(end[tp] - first.get(tp, 0) for tp in end if tp[0] == DEAD_LETTER.name)
    return Status(
        projections=[
            ProjectionRow(
                projection=name,
                live=next((g.number for g in gens if g.state == "live"), None),
                generations=gens,
            )
            for name, gens in rows.items()
        ],
        outboxes=outboxes,
        parked=parked,
        dead_letters=dead,
    )


async def _outbox(conn: asyncpg.Connection, schema: str) -> OutboxRow:
    row = await conn.fetchrow(
        f"SELECT count(*) AS backlog, extract(epoch FROM now() - min(created_at)) AS age "
        f'FROM "{schema}".outbox'
    )
    assert row is not None
    parked = 0
    if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f'"{schema}".outbox_parked'):
        parked = await conn.fetchval(f'SELECT count(*) FROM "{schema}".outbox_parked')
    age = row["age"]
    return OutboxRow(schema, row["backlog"], float(age) if age is not None else None, parked)


async def _parked(conn: asyncpg.Connection, schema: str) -> ParkedRow:
    row = await conn.fetchrow(
        f"SELECT count(*) AS records, extract(epoch FROM now() - min(parked_at)) AS age "
        f'FROM "{schema}".parked'
    )
    assert row is not None
    age = row["age"]
    return ParkedRow(schema, row["records"], float(age) if age is not None else None)
