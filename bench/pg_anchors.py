"""Raw PostgreSQL anchors for the rebuild: the rows scoring's generation holds, written again by
plain asyncpg `executemany` upserts and by `COPY`, in batches of the scoring batch size, into a
scratch schema with the same table definitions on the same server.

The rows are read back from scoring's live generation after the rebuild, so they are exactly
what the real fold produced. Only the tables a fold writes are copied: the outbox rows are gone
once published (and a rebuild writes none), and nothing is parked in this workload.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg

from bench.machine import CpuMeter

SCRATCH = "bench_anchor"
NOT_FOLDED = frozenset({"outbox", "outbox_parked", "parked"})
Method = Literal["executemany", "copy"]


@dataclass(frozen=True)
class Table:
    name: str
    columns: list[str]
    key: list[str]  # the primary key: the conflict target of scoring's upserts
    rows: list[tuple[Any, ...]]

    def upsert(self) -> str:
        """INSERT … ON CONFLICT (key) DO UPDATE of every other column, as scoring's upserts;
        DO NOTHING when there is no other column."""
        cols = ", ".join(f'"{c}"' for c in self.columns)
        params = ", ".join(f"${i}" for i in range(1, len(self.columns) + 1))
        rest = [c for c in self.columns if c not in self.key]
        action = (
            "DO UPDATE SET " + ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in rest)
            if rest
            else "DO NOTHING"
        )
        target = ", ".join(f'"{c}"' for c in self.key)
        return f'INSERT INTO {SCRATCH}."{self.name}" ({cols}) VALUES ({params}) ' + (
            f"ON CONFLICT ({target}) {action}" if self.key else "ON CONFLICT DO NOTHING"
        )


@dataclass
class Pass:
    method: Method
    seconds: float
    cpu_s: dict[str, float] = field(default_factory=dict)


async def read_generation(conn: asyncpg.Connection, schema: str) -> list[Table]:
    """Every non-empty table the fold writes in `schema`, with its rows in storage order."""
    names = await conn.fetch(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name",
        schema,
    )
    tables = []
    for record in names:
        name = str(record["table_name"])
        if name in NOT_FOLDED:
            continue
        qualified = f'"{schema}"."{name}"'
        rows = await conn.fetch(f"SELECT * FROM {qualified}")
        if not rows:
            continue
        key = await conn.fetch(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY a.attnum",
            qualified,
        )
        tables.append(
            Table(
                name,
                list(rows[0].keys()),
                [str(k["attname"]) for k in key],
                [tuple(r.values()) for r in rows],
            )
        )
    return tables


async def _create_scratch(conn: asyncpg.Connection, schema: str, tables: list[Table]) -> None:
    await conn.execute(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE; CREATE SCHEMA {SCRATCH}")
    for t in tables:  # same columns, defaults, constraints and indexes
        await conn.execute(
            f'CREATE TABLE {SCRATCH}."{t.name}" (LIKE "{schema}"."{t.name}" INCLUDING ALL)'
        )


def _slices(rows: Sequence[tuple[Any, ...]], batches: int) -> list[Sequence[tuple[Any, ...]]]:
    """The rows spread evenly over the batches, in order (each row written once)."""
    return [rows[i * len(rows) // batches : (i + 1) * len(rows) // batches] for i in range(batches)]


async def _write(
    conn: asyncpg.Connection, tables: list[Table], batches: int, method: Method, meter: CpuMeter
) -> Pass:
    names = ", ".join(f'{SCRATCH}."{t.name}"' for t in tables)
    await conn.execute(f"TRUNCATE {names}")
    await conn.execute(f"VACUUM ANALYZE {names}")  # each pass starts from the same state
    plan = [(t, t.upsert(), _slices(t.rows, batches)) for t in tables]
    cpu0, t0 = meter.snapshot(), time.perf_counter()
    for i in range(batches):
        async with conn.transaction():  # one transaction per batch, as scoring's
            for t, upsert, slices in plan:
                if not slices[i]:
                    continue
                if method == "executemany":
                    await conn.executemany(upsert, slices[i])
                else:
                    await conn.copy_records_to_table(
                        t.name, records=slices[i], columns=t.columns, schema_name=SCRATCH
                    )
    seconds, cpu1 = time.perf_counter() - t0, meter.snapshot()
    return Pass(method, seconds, CpuMeter.delta(cpu0, cpu1))


async def raw_writes(
    database_url: str, schema: str, events: int, batch: int, passes: int, meter: CpuMeter
) -> dict[str, Any]:
    """Times `passes` rounds of executemany and COPY (alternating) of the generation's rows;
    the median pass of each counts. Drops the scratch schema at the end."""
    conn = await asyncpg.connect(database_url)
    try:
        tables = await read_generation(conn, schema)
        await _create_scratch(conn, schema, tables)
        batches = max(1, -(-events // batch))
        runs: dict[Method, list[Pass]] = {"executemany": [], "copy": []}
        for _ in range(passes):
            for method in ("executemany", "copy"):
                runs[method].append(await _write(conn, tables, batches, method, meter))
        await conn.execute(f"DROP SCHEMA {SCRATCH} CASCADE")
    finally:
        await conn.close()
    rows = sum(len(t.rows) for t in tables)
    out: dict[str, Any] = {
        "source_schema": schema,
        "transactions": batches,
        "rows": rows,
        "rows_per_table": {t.name: len(t.rows) for t in tables},
        "conflict_targets": {t.name: t.key for t in tables},
    }
    for method, done in runs.items():
        median = sorted(done, key=lambda p: p.seconds)[len(done) // 2]
        out[method] = {
            "seconds": round(median.seconds, 3),
            "rows_per_s": round(rows / median.seconds),
            "events_per_s": round(events / median.seconds),
            "cpu_s": median.cpu_s,
            "passes_rows_per_s": [round(rows / p.seconds) for p in done],
        }
    return out
