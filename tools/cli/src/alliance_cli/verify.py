"""`alliance verify`: build a throwaway copy of a projection from the log (a `verifying`
generation in the free slot, built by the services) and compare it with the live one, case by
case, once both have consumed exactly the same positions (checked in the same snapshot as the
comparison). The copy is dropped afterwards."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg

from alliance_cli.engines import KAFKA_ERRORS, Engines
from alliance_platform import projections
from alliance_platform.lag import parked_count, projection_lag, tracked_positions
from alliance_platform.projections import CatalogError, Generation, Purpose

# How long a copy that has consumed everything may take to fold what it parked.
PARKED_GRACE = 15.0
# Processing times: when a generation wrote a row, not what the log says.
VOLATILE_COLUMNS = frozenset({"updated_at", "processed_at", "parked_at", "created_at"})


@dataclass(frozen=True)
class TableDifference:
    table: str
    live_only: int  # rows of the live generation the copy does not have
    copy_only: int
    cases: list[str] = field(default_factory=list)  # "clinic/case" of the rows that differ


@dataclass(frozen=True)
class Verification:
    projection: str
    live: int
    copy: int
    positions_equal: bool
    tables: int
    rows: int
    differences: list[TableDifference]

    @property
    def equal(self) -> bool:
        return self.positions_equal and not self.differences

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "equal": self.equal}


async def verify(
    engines: Engines, projection: str, give_up_after: float, clinic: str | None = None
) -> Verification:
    """`clinic`: compare that clinic's rows only."""
    async with engines.database() as conn:
        live = await projections.live_generation(conn, projection)
        if live is None:
            raise CatalogError(f"{projection} has no live generation to verify")
        copy = await projections.begin(conn, projection, live.version, Purpose.VERIFY, live.topics)
        try:
            await _caught_up(engines, conn, live, copy, give_up_after)
            return await _compare(conn, projection, live, copy, give_up_after, clinic)
        finally:
            await projections.cancel(conn, projection, copy.number)


async def _caught_up(
    engines: Engines,
    conn: asyncpg.Connection,
    live: Generation,
    copy: Generation,
    give_up_after: float,
) -> None:
    """The copy has consumed every record, and folded as many as the live one (its parked
    records wait for something, usually a configuration version on another topic), or has
    still more parked after PARKED_GRACE seconds (then the comparison shows their cases)."""
    deadline = time.monotonic() + give_up_after
    consumed_at: float | None = None
    while True:
        try:
            lags = await projection_lag(
                conn, engines.kafka_bootstrap_servers, copy.schema, copy.topics
            )
        except KAFKA_ERRORS as exc:
            raise engines.kafka_error(exc) from None
        if lags and sum(p.lag for p in lags) == 0:
            consumed_at = consumed_at or time.monotonic()
            waiting = await parked_count(conn, copy.schema) - await parked_count(conn, live.schema)
            if waiting <= 0 or time.monotonic() - consumed_at > PARKED_GRACE:
                return
        if time.monotonic() > deadline:
            raise CatalogError(
                f"the copy (generation {copy.number}) did not catch up within {give_up_after:.0f} "
                "s: are the services running?"
            )
        await asyncio.sleep(1)


async def _compare(
    conn: asyncpg.Connection,
    projection: str,
    live: Generation,
    copy: Generation,
    give_up_after: float,
    clinic: str | None,
) -> Verification:
    """Compares in one snapshot once the positions agree (the live one keeps consuming)."""
    deadline = time.monotonic() + give_up_after
    while True:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            equal = await tracked_positions(conn, live.schema) == await tracked_positions(
                conn, copy.schema
            )
            if equal or time.monotonic() > deadline:
                views = await conn.fetch(
                    "SELECT viewname FROM pg_views WHERE schemaname = $1 ORDER BY viewname",
                    projection,
                )
                differences, rows = [], 0
                for view in views:
                    table = view["viewname"]
                    difference, count = await _compare_table(conn, live, copy, table, clinic)
                    rows += count
                    if difference is not None:
                        differences.append(difference)
                return Verification(
                    projection, live.number, copy.number, equal, len(views), rows, differences
                )
        await asyncio.sleep(0.5)


async def _compare_table(
    conn: asyncpg.Connection, live: Generation, copy: Generation, table: str, clinic: str | None
) -> tuple[TableDifference | None, int]:
    columns = [
        r["column_name"]
        for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
            live.schema,
            table,
        )
        if r["column_name"] not in VOLATILE_COLUMNS
    ]
    listed = ", ".join(f'"{c}"' for c in columns)
    a, b = f'"{live.schema}"."{table}"', f'"{copy.schema}"."{table}"'
    if clinic is not None and "clinic_id" in columns:  # (a literal: these are sub-selects)
        only = await conn.fetchval("SELECT quote_literal($1)", clinic)
        a = f"(SELECT * FROM {a} WHERE clinic_id = {only}) AS live_rows"
        b = f"(SELECT * FROM {b} WHERE clinic_id = {only}) AS copy_rows"
    case_key = "clinic_id" in columns and "case_id" in columns
    key = "clinic_id || '/' || case_id" if case_key else "NULL"
    row = await conn.fetchrow(
        f"WITH live_only AS (SELECT {listed} FROM {a} EXCEPT ALL SELECT {listed} FROM {b}), "
        f"copy_only AS (SELECT {listed} FROM {b} EXCEPT ALL SELECT {listed} FROM {a}) "
        "SELECT (SELECT count(*) FROM live_only) AS live_only, "
        "(SELECT count(*) FROM copy_only) AS copy_only, "
        f"(SELECT count(*) FROM {a}) AS total, "
        f"ARRAY(SELECT DISTINCT {key} FROM (SELECT * FROM live_only UNION ALL "
        "SELECT * FROM copy_only) d ORDER BY 1 LIMIT 100) AS cases"
    )
    assert row is not None
    if not row["live_only"] and not row["copy_only"]:
        return None, row["total"]
    cases = [c for c in row["cases"] if c is not None]
    return TableDifference(table, row["live_only"], row["copy_only"], cases), row["total"]
