"""The real scoring service as its own process: the live phase (from start until its live
generation has processed every event), the rebuild beside it, and what scoring recorded."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from alliance_contracts.topics import RESPONSES
from alliance_devstack.processes import ServiceProcess
from bench.machine import CpuMeter, memory_mib
from bench.measurement import POLL_S, Phase, Stack

# Runs `python -m alliance_scoring` under cProfile. uvicorn re-raises SIGTERM after its graceful
# shutdown, which would kill the process before cProfile writes; exiting instead lets it write.
PROFILE_WRAPPER = """
import cProfile, runpy, signal, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
cProfile.run('runpy.run_module("alliance_scoring", run_name="__main__")', sys.argv[1])
"""


@dataclass
class ScoringRun:
    batch: int
    from_start: Phase
    from_ready: Phase
    steady: Phase | None
    ready_after_s: float
    processed_at_ready: int
    first_event_after_s: float | None
    outbox_empty_after_s: float | None
    transactions: dict[str, Any]
    shutdown_s: float
    exit_code: int | None
    log_levels: dict[str, int]
    log_warnings: list[str]
    log_path: str
    rows: dict[str, int]
    # From /readyz = 200 to the last event: the marginal CPU, without imports and connecting.
    cpu_from_ready: dict[str, float]
    memory_mib: dict[str, float]  # scoring's VmRSS and VmHWM when it had processed every event
    row_writes: dict[str, int]  # rows inserted, updated or deleted per table of its generation


def scoring_env(stack: Stack, batch: int) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap,
        "DATABASE_URL": stack.database_url,
        "ALLIANCE_DB_ADMIN_URL": stack.database_url,
        "ALLIANCE_SCORING_BATCH": str(batch),
        "ALLIANCE_PROJECTION_WATCH_SECONDS": "0.5",
    }


async def scoring_slot(pool: asyncpg.Pool) -> str | None:
    """The schema of scoring's live generation (its private tables are there), if any yet."""
    try:
        slot = await pool.fetchval("SELECT slot FROM scoring.generation WHERE state = 'live'")
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return None  # scoring has not created its catalog yet
    return f"scoring_{slot}" if slot else None


async def processed(pool: asyncpg.Pool, table: str) -> int:
    """Rows of a table of the live generation."""
    schema = await scoring_slot(pool)
    if schema is None:
        return 0
    try:
        return int(await pool.fetchval(f"SELECT count(*) FROM {schema}.{table}"))
    except asyncpg.UndefinedTableError:
        return 0  # its tables are not created yet


async def consumed(pool: asyncpg.Pool) -> int:
    """Records of the responses topic the live generation has consumed and not parked: its
    tracked positions (the next offset per partition; the topic started empty)."""
    schema = await scoring_slot(pool)
    if schema is None:
        return 0
    try:
        position = await pool.fetchval(
            f"SELECT coalesce(sum(position), 0) FROM {schema}.tracking WHERE topic = $1",
            RESPONSES.name,
        )
        parked = await pool.fetchval(f"SELECT count(*) FROM {schema}.parked")
    except asyncpg.UndefinedTableError:
        return 0
    return int(position) - int(parked)


async def transaction_stats(pool: asyncpg.Pool) -> dict[str, Any]:
    """processed_at defaults to now(), the start time of the transaction that claimed the event:
    one distinct value per scoring batch transaction (none if scoring keeps no such rows)."""
    try:
        rows = await pool.fetch(
            f"SELECT processed_at, count(*) AS n FROM {await scoring_slot(pool)}.processed_event "
            "GROUP BY processed_at ORDER BY processed_at"
        )
    except asyncpg.UndefinedTableError:
        rows = []
    sizes = [int(r["n"]) for r in rows]
    starts = [r["processed_at"] for r in rows]
    gaps_ms = sorted((b - a).total_seconds() * 1000 for a, b in itertools.pairwise(starts))
    out: dict[str, Any] = {
        "count": len(sizes),
        "size_mean": round(statistics.fmean(sizes), 1) if sizes else 0,
        "size_median": statistics.median(sizes) if sizes else 0,
        "size_min": min(sizes, default=0),
        "size_max": max(sizes, default=0),
        "single_event": sum(1 for s in sizes if s == 1),
    }
    if gaps_ms:
        out |= {
            "gap_ms_median": round(statistics.median(gaps_ms), 1),
            "gap_ms_p95": round(gaps_ms[int(0.95 * (len(gaps_ms) - 1))], 1),
            "gap_ms_max": round(gaps_ms[-1], 1),
            "gap_ms_deciles": [
                round(q, 1) for q in statistics.quantiles(gaps_ms, n=10, method="inclusive")
            ]
            if len(gaps_ms) > 1
            else [],
        }
    return out


def scan_log(path: Path) -> tuple[dict[str, int], list[str]]:
    """Counts the JSON log lines per level; returns the distinct WARNING+ messages (counted)."""
    levels: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            levels["non-json"] += 1
            if line.strip():
                warnings[f"(non-json) {line.strip()[:160]}"] += 1
            continue
        level = str(entry.get("level", "?"))
        levels[level] += 1
        if level in ("WARNING", "ERROR", "CRITICAL"):
            extra = entry.get("error") or entry.get("reason") or ""
            warnings[f"{level} {entry.get('logger')}: {entry.get('msg')} {extra}".strip()] += 1
    return dict(levels), [f"{n}x {msg}" for msg, n in warnings.most_common(10)]


async def score_all(
    stack: Stack,
    n: int,
    batch: int,
    meter: CpuMeter,
    log_path: Path,
    deadline: float,
    profile: Path | None,
) -> ScoringRun:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap,
        "DATABASE_URL": stack.database_url,
        "ALLIANCE_SCORING_BATCH": str(batch),
    }
    argv = ["-c", PROFILE_WRAPPER, str(profile)] if profile is not None else None
    scoring = ServiceProcess("scoring", env, log_path, argv=argv)
    pool = await asyncpg.create_pool(stack.database_url, min_size=2, max_size=3)
    assert pool is not None
    try:
        cpu0 = meter.snapshot()
        t0 = time.perf_counter()
        meter.scoring_pid = scoring.start(append_log=False)

        ready: dict[str, Any] = {}

        async def wait_ready() -> None:
            while True:
                if await asyncio.to_thread(scoring.ready):
                    break
                await asyncio.sleep(0.05)
            ready["at"] = time.perf_counter() - t0
            ready["cpu"] = meter.snapshot()
            ready["count"] = await consumed(pool)

        ready_task = asyncio.create_task(wait_ready())
        samples: list[tuple[float, int]] = []
        while True:
            count = await consumed(pool)
            samples.append((time.perf_counter() - t0, count))
            if count >= n:
                break
            if (code := scoring.exit_code()) is not None:
                raise RuntimeError(
                    f"scoring exited with {code}; end of its log:\n{scoring.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"scoring processed {count}/{n} before the deadline")
            await asyncio.sleep(POLL_S)
        done_at = samples[-1][0]
        cpu1 = meter.snapshot()
        memory = memory_mib(scoring.pid)
        await asyncio.wait_for(ready_task, timeout=30)

        outbox_empty_after: float | None = None
        while time.monotonic() < deadline and time.perf_counter() - t0 < done_at + 120:
            if await processed(pool, "outbox") == 0:
                outbox_empty_after = time.perf_counter() - t0
                break
            await asyncio.sleep(POLL_S)

        t_stop = time.perf_counter()
        exit_code = await asyncio.to_thread(scoring.stop, 30)  # None: killed after 30 s
        shutdown_s = time.perf_counter() - t_stop

        first = next((t for t, c in samples if c > 0), None)
        lo = next(((t, c) for t, c in samples if c >= 0.1 * n), None)
        hi = next(((t, c) for t, c in samples if c >= 0.9 * n), None)
        steady = (
            Phase("scoring steady 10-90%", hi[1] - lo[1], hi[0] - lo[0])
            if lo and hi and hi[0] > lo[0]
            else None
        )
        cpu = CpuMeter.delta(cpu0, cpu1)
        tables = await pool.fetch(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = $1 ORDER BY table_name",
            await scoring_slot(pool),
        )
        rows = {t["table_name"]: await processed(pool, t["table_name"]) for t in tables}
        writes = await row_writes(pool, await scoring_slot(pool))  # stopped: its stats are in
        levels, warnings = scan_log(log_path)
        return ScoringRun(
            batch=batch,
            from_start=Phase("scoring from start", n, done_at, cpu),
            from_ready=Phase(
                "scoring from ready", n - int(ready["count"]), done_at - ready["at"], cpu
            ),
            steady=steady,
            ready_after_s=round(ready["at"], 3),
            processed_at_ready=int(ready["count"]),
            first_event_after_s=round(first, 3) if first is not None else None,
            outbox_empty_after_s=(
                round(outbox_empty_after, 3) if outbox_empty_after is not None else None
            ),
            transactions=await transaction_stats(pool),
            shutdown_s=round(shutdown_s, 2),
            exit_code=exit_code,
            log_levels=levels,
            log_warnings=warnings,
            log_path=str(log_path),
            rows=rows,
            cpu_from_ready=CpuMeter.delta(ready["cpu"], cpu1),
            memory_mib=memory,
            row_writes=writes,
        )
    finally:
        await asyncio.to_thread(scoring.stop)
        meter.scoring_pid = None
        await pool.close()


@dataclass
class Rebuild:
    phase: Phase
    memory_mib: dict[str, float]  # scoring's, at the switch
    row_writes: dict[str, int]  # of the new generation


async def rebuild_beside_live(
    stack: Stack, batch: int, meter: CpuMeter, log_path: Path, deadline: float
) -> Rebuild:
    """The scoring service runs its live generation (idle: the topic is consumed) while
    `alliance rebuild scoring --wait` builds a new one beside it from the same topics, until
    the switch. Events are the positions the new generation consumed; CPU is from the request
    to the switch (the scoring process builds the new generation)."""
    env = scoring_env(stack, batch)
    scoring = ServiceProcess("scoring", env, log_path)
    meter.scoring_pid = scoring.start(append_log=True)
    try:
        await asyncio.to_thread(scoring.wait_ready)
        timeout = max(30.0, deadline - time.monotonic())
        cpu0 = meter.snapshot()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "alliance_cli",
            "rebuild",
            "scoring",
            "--wait",
            "--json",
            "--timeout",
            str(round(timeout)),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        cpu1, memory = meter.snapshot(), memory_mib(scoring.pid)
        if process.returncode != 0:
            raise RuntimeError(f"alliance rebuild failed: {err.decode()[-2000:]}")
        result = json.loads(out)
        phase = Phase(
            "scoring rebuild beside the live one",
            result["consumed"],
            result["elapsed"],
            CpuMeter.delta(cpu0, cpu1),
        )
    finally:
        await asyncio.to_thread(scoring.stop)
        meter.scoring_pid = None
    pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=1)
    assert pool is not None
    try:
        return Rebuild(phase, memory, await row_writes(pool, await scoring_slot(pool)))
    finally:
        await pool.close()


async def row_writes(pool: asyncpg.Pool, schema: str | None) -> dict[str, int]:
    """Rows inserted + updated + deleted per table of a schema, from PostgreSQL's statistics
    (a backend reports them by the time it exits: read them with the writer stopped). An
    upsert that updates counts once, as an update."""
    rows = await pool.fetch(
        "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del AS n FROM pg_stat_user_tables "
        "WHERE schemaname = $1 ORDER BY relname",
        schema,
    )
    return {r["relname"]: int(r["n"]) for r in rows if r["n"]}
