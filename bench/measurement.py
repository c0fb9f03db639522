"""The measured phases: fill the topic, drain it (raw and validated), and the real scoring
service as its own process until it has processed every event."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from alliance_contracts.events import ResponseSubmitted
from alliance_contracts.topics import RESPONSES
from alliance_devstack.processes import ServiceProcess
from alliance_platform.kafka import event_headers
from bench.machine import CpuMeter

POLL_S = 0.25
MAX_RECORDS = 500
# Runs `python -m alliance_scoring` under cProfile. uvicorn re-raises SIGTERM after its graceful
# shutdown, which would kill the process before cProfile writes; exiting instead lets it write.
PROFILE_WRAPPER = """
import cProfile, runpy, signal, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
cProfile.run('runpy.run_module("alliance_scoring", run_name="__main__")', sys.argv[1])
"""


@dataclass(frozen=True)
class Stack:
    bootstrap: str
    database_url: str
    kafka_pid: int
    postgres_pid: int
    kafka_version: str
    directory: Path


@dataclass
class Phase:
    name: str
    events: int
    seconds: float
    cpu_s: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("nan")


async def fill(stack: Stack, events: list[ResponseSubmitted], meter: CpuMeter) -> tuple[Phase, int]:
    """Produces the events; returns the phase and the total value bytes."""
    records = [(e.case_id.encode(), e.model_dump_json().encode(), event_headers(e)) for e in events]
    value_bytes = sum(len(v) for _, v, _ in records)
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.bootstrap,
        client_id="bench-fill",
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    try:
        await producer.partitions_for(RESPONSES.name)  # metadata before the clock starts
        cpu0, t0 = meter.snapshot(), time.perf_counter()
        futures = [
            await producer.send(RESPONSES.name, value=v, key=k, headers=h) for k, v, h in records
        ]
        await producer.flush()
        seconds, cpu1 = time.perf_counter() - t0, meter.snapshot()
        for f in futures:
            f.result()  # raises if a send failed
    finally:
        await producer.stop()
    return Phase("fill", len(events), seconds, CpuMeter.delta(cpu0, cpu1)), value_bytes


async def partitions_of(bootstrap: str, topics: list[str]) -> dict[str, list[int]]:
    """Partition ids per topic, from the cluster metadata (a producer waits for it)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="bench-metadata")
    await producer.start()
    try:
        return {t: sorted(await producer.partitions_for(t)) for t in topics}
    finally:
        await producer.stop()


async def topic_sizes(bootstrap: str, topics: list[str]) -> dict[str, int]:
    """Records per topic (sum of end offsets; the topics are new and never compacted)."""
    parts = await partitions_of(bootstrap, topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id="bench-sizes")
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in parts[t]]
        end = await consumer.end_offsets(tps)
        return {t: sum(v for tp, v in end.items() if tp.topic == t) for t in topics}
    finally:
        await consumer.stop()


async def wait_for_leaders(bootstrap: str, topic: str, within_s: float = 60) -> None:
    """Just-created topics answer NotLeaderForPartition for a moment; a ListOffsets to every
    partition's leader succeeds once they all lead, so the fill is not timed through that."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            await asyncio.wait_for(topic_sizes(bootstrap, [topic]), timeout=10)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def drain(
    stack: Stack,
    n: int,
    partitions: int,
    meter: CpuMeter,
    name: str,
    decode: Callable[[bytes], object] | None,
) -> Phase:
    """Reads the whole topic with getmany(max_records=500), no group and no commits."""
    parts = (await partitions_of(stack.bootstrap, [RESPONSES.name]))[RESPONSES.name]
    tps = [TopicPartition(RESPONSES.name, p) for p in parts]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.bootstrap,
        client_id=f"bench-{name}",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        if len(tps) != partitions:
            raise RuntimeError(f"{RESPONSES.name} has {len(tps)} partitions, not {partitions}")
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        available = sum((await consumer.end_offsets(tps)).values())
        if available != n:
            raise RuntimeError(f"{RESPONSES.name} holds {available} records, not {n}")
        count = 0
        cpu0, t0 = meter.snapshot(), time.perf_counter()
        if decode is None:
            while count < n:
                batch = await consumer.getmany(timeout_ms=1000, max_records=MAX_RECORDS)
                for recs in batch.values():
                    count += len(recs)
        else:
            while count < n:
                batch = await consumer.getmany(timeout_ms=1000, max_records=MAX_RECORDS)
                for recs in batch.values():
                    for r in recs:
                        decode(r.value)
                    count += len(recs)
        seconds, cpu1 = time.perf_counter() - t0, meter.snapshot()
    finally:
        await consumer.stop()
    return Phase(name, count, seconds, CpuMeter.delta(cpu0, cpu1))


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


async def scoring_slot(pool: asyncpg.Pool) -> str | None:
    """The schema of scoring's live generation (its private tables are there), if any yet."""
    try:
        slot = await pool.fetchval("SELECT slot FROM scoring.generation WHERE state = 'live'")
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return None  # scoring has not created its catalog yet
    return f"scoring_{slot}" if slot else None


async def processed(pool: asyncpg.Pool, table: str = "processed_event") -> int:
    schema = await scoring_slot(pool)
    if schema is None:
        return 0
    try:
        return int(await pool.fetchval(f"SELECT count(*) FROM {schema}.{table}"))
    except asyncpg.UndefinedTableError:
        return 0  # its tables are not created yet


async def transaction_stats(pool: asyncpg.Pool) -> dict[str, Any]:
    """processed_at defaults to now(), the start time of the transaction that claimed the event:
    one distinct value per scoring batch transaction."""
    rows = await pool.fetch(
        f"SELECT processed_at, count(*) AS n FROM {await scoring_slot(pool)}.processed_event "
        "GROUP BY processed_at ORDER BY processed_at"
    )
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

        ready: dict[str, float] = {}

        async def wait_ready() -> None:
            while True:
                if await asyncio.to_thread(scoring.ready):
                    break
                await asyncio.sleep(0.05)
            ready["at"] = time.perf_counter() - t0
            ready["count"] = await processed(pool)

        ready_task = asyncio.create_task(wait_ready())
        samples: list[tuple[float, int]] = []
        while True:
            count = await processed(pool)
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
        )
    finally:
        await asyncio.to_thread(scoring.stop)
        await pool.close()


async def rebuild_beside_live(stack: Stack, batch: int, log_path: Path, deadline: float) -> Phase:
    """The scoring service runs its live generation (idle: the topic is consumed) while
    `alliance rebuild scoring --wait` builds a new one beside it from the same topics, until
    the switch. Events are the positions the new generation consumed."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap,
        "DATABASE_URL": stack.database_url,
        "ALLIANCE_DB_ADMIN_URL": stack.database_url,
        "ALLIANCE_SCORING_BATCH": str(batch),
        "ALLIANCE_PROJECTION_WATCH_SECONDS": "0.5",
    }
    scoring = ServiceProcess("scoring", env, log_path)
    scoring.start(append_log=True)
    try:
        await asyncio.to_thread(scoring.wait_ready)
        timeout = max(30.0, deadline - time.monotonic())
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
        if process.returncode != 0:
            raise RuntimeError(f"alliance rebuild failed: {err.decode()[-2000:]}")
        result = json.loads(out)
        return Phase("scoring rebuild beside the live one", result["consumed"], result["elapsed"])
    finally:
        await asyncio.to_thread(scoring.stop)
