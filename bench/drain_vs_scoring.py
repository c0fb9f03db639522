"""Raw Kafka drain rate against the scoring service's projection rate, on one pre-filled topic.

    uv run python -m bench.drain_vs_scoring [--events 50000] [--partitions 12] [--batch 500]

Starts its own throwaway stack with deploy/local/devstack.py (real Kafka and PostgreSQL on
loopback, in a fresh ALLIANCE_STACK_DIR, so `alliance.responses.v1` starts empty), then:

1. fill: produces N valid ResponseSubmitted events (SRS and WAI-SR, client/parent/therapist
   forms, ~N/10 cases, keyed by case id) with one aiokafka producer, sends not awaited one by
   one, then a flush;
2. drain: a group-less AIOKafkaConsumer assigned every partition reads all N records with
   getmany(max_records=500), raw bytes; then a second pass that validates each record with
   pydantic (`TypeAdapter(ResponseSubmitted).validate_json`);
3. scoring: the real scoring service as a separate OS process (`python -m alliance_scoring`),
   timed from process start and from /readyz = 200 until `scoring.processed_event` holds N
   rows (polled every 0.25 s), then stopped with SIGTERM.

Prints a table, the ratio raw drain / scoring, and the result as JSON. The stack is always
stopped, also on error or timeout. Measures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import TypeAdapter

from alliance_contracts.events import ResponseSubmitted, ResponseSubmittedPayload
from alliance_contracts.instruments import validate_response
from alliance_contracts.topics import DEAD_LETTER, RESPONSES, SCORED
from alliance_contracts.vocabulary import RespondentRole
from alliance_platform.kafka import event_headers

REPO = Path(__file__).resolve().parents[1]
LAUNCHER = REPO / "deploy" / "local" / "devstack.py"
POLL_S = 0.25
MAX_RECORDS = 500
T0 = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
# Runs `python -m alliance_scoring` under cProfile. uvicorn re-raises SIGTERM after its graceful
# shutdown, which would kill the process before cProfile writes; exiting instead lets it write.
PROFILE_WRAPPER = """
import cProfile, runpy, signal, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
cProfile.run('runpy.run_module("alliance_scoring", run_name="__main__")', sys.argv[1])
"""


# ---------------------------------------------------------------- workload


@dataclass(frozen=True)
class Case:
    clinic_id: str
    case_id: str
    therapist_id: str
    child: bool  # a child client: a parent or caregiver answers too

    def submissions(self, session: int) -> list[tuple[RespondentRole, str | None, str, str]]:
        """(role, respondent id, instrument, form) submitted at this session: SRS every
        session, WAI-SR (client side and therapist) every third session."""
        out: list[tuple[RespondentRole, str | None, str, str]] = [
            (RespondentRole.CLIENT, None, "SRS", "client")
        ]
        if self.child:
            out.append((RespondentRole.PARENT, "p1", "SRS", "client"))
        if session % 3 == 1:
            out.append((RespondentRole.CLIENT, None, "WAI-SR", "client"))
            if self.child:
                out.append((RespondentRole.PARENT, "p1", "WAI-SR", "client"))
            out.append((RespondentRole.THERAPIST, None, "WAI-SR", "therapist"))
        return out


def generate_events(n: int, seed: int) -> tuple[list[ResponseSubmitted], int]:
    """N valid events over N/10 cases, session after session (so each case's events are in
    session order); returns the events and the number of cases."""
    rng = random.Random(seed)
    cases = [
        Case(
            clinic_id=f"clinic-{i % 20:02d}",
            case_id=f"case-{i:06d}",
            therapist_id=f"th-{i % 20:02d}-{rng.randrange(8)}",
            child=rng.random() < 0.3,
        )
        for i in range(max(1, n // 10))
    ]
    events: list[ResponseSubmitted] = []
    session = 0
    while len(events) < n:
        session += 1
        for case in cases:
            for role, respondent_id, instrument, form in case.submissions(session):
                if instrument == "SRS":
                    answers: dict[int, float | None] = {
                        i: round(rng.uniform(0, 10), 1) for i in range(1, 5)
                    }
                else:
                    answers = {i: float(rng.randint(1, 5)) for i in range(1, 13)}
                problems = validate_response(instrument, form, role, answers)
                if problems:
                    raise RuntimeError(f"generated an invalid response: {problems}")
                at = T0 + timedelta(weeks=session, minutes=rng.randrange(600))
                events.append(
                    ResponseSubmitted(
                        event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                        clinic_id=case.clinic_id,
                        case_id=case.case_id,
                        occurred_at=at,
                        recorded_at=at + timedelta(seconds=rng.randrange(1, 300)),
                        payload=ResponseSubmittedPayload(
                            therapist_id=case.therapist_id,
                            respondent_role=role,
                            respondent_id=respondent_id,
                            instrument=instrument,
                            form=form,
                            session_number=session,
                            administered_at=at,
                            answers=answers,
                        ),
                    )
                )
                if len(events) == n:
                    return events, len(cases)
    return events, len(cases)


# ---------------------------------------------------------------- machine and CPU accounting


def source_revision() -> dict[str, Any]:
    """The commit measured, and the files of scoring and shared that differ from it."""
    import alliance_scoring

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
        )
        return result.stdout.rstrip()

    changed = git("status", "--porcelain", "--", "shared", "services/scoring/src")
    return {
        "commit": git("rev-parse", "--short", "HEAD") or "unknown (not a git checkout)",
        "scoring_package": str(Path(alliance_scoring.__file__).parent),
        "uncommitted": [line[3:] for line in changed.splitlines()],
    }


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram_gib = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024**2, 1)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "ram_gib": ram_gib,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pid: int, with_children: bool = False) -> float:
    """utime+stime of a process (fields 14-15 of /proc/<pid>/stat); with_children adds the
    reaped children (cutime+cstime) and the live ones (PostgreSQL's backends)."""
    rest = _stat(pid)
    if rest is None:
        return 0.0
    fields = (11, 12, 13, 14) if with_children else (11, 12)
    ticks = sum(int(rest[i]) for i in fields)
    if with_children:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                child = _stat(int(entry.name))
                if child is not None and child[1] == str(pid):
                    ticks += int(child[11]) + int(child[12])
    return ticks / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all CPUs), from /proc/stat."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


@dataclass
class CpuMeter:
    """CPU seconds used by the bench itself, Kafka, PostgreSQL, (if running) scoring, and the
    whole machine."""

    kafka_pid: int
    postgres_pid: int
    scoring_pid: int | None = None

    def snapshot(self) -> dict[str, float]:
        snap = {
            "bench": time.process_time(),
            "kafka": cpu_seconds(self.kafka_pid),
            "postgres": cpu_seconds(self.postgres_pid, with_children=True),
        }
        if self.scoring_pid is not None:
            snap["scoring"] = cpu_seconds(self.scoring_pid)
        snap["machine"] = machine_busy_seconds()
        return snap

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        """Per component; `other` is what the rest of the machine used meanwhile (other
        processes: a busy neighbour makes the rates unreliable)."""
        d = {k: after[k] - before.get(k, 0.0) for k in after}
        d["other"] = d.pop("machine") - sum(d.values())
        return {k: round(v, 2) for k, v in d.items()}


# ---------------------------------------------------------------- stack


@dataclass(frozen=True)
class Stack:
    bootstrap: str
    database_url: str
    kafka_pid: int
    postgres_pid: int
    kafka_version: str
    directory: Path


@contextlib.contextmanager
def throwaway_stack(partitions: int, deadline: float, keep: bool) -> Iterator[Stack]:
    directory = Path(tempfile.mkdtemp(prefix="alliance-bench-"))
    env = {
        **os.environ,
        "ALLIANCE_STACK_DIR": str(directory),
        "ALLIANCE_TOPIC_PARTITIONS": str(partitions),
    }
    # The launcher would adopt an external database; this run must own an empty one.
    env.pop("DATABASE_URL", None)
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    launcher = [sys.executable, str(LAUNCHER)]
    try:
        subprocess.run(
            [*launcher, "start"],
            env=env,
            check=True,
            stdout=sys.stderr,
            timeout=max(1.0, deadline - time.monotonic()),
        )
        out = subprocess.run(
            [*launcher, "env"], env=env, check=True, capture_output=True, text=True
        ).stdout
        values = dict(
            line.removeprefix("export ").split("=", 1)
            for line in out.splitlines()
            if line.startswith("export ")
        )
        state = json.loads((directory / "state.json").read_text())
        yield Stack(
            bootstrap=values["KAFKA_BOOTSTRAP_SERVERS"],
            database_url=values["DATABASE_URL"],
            kafka_pid=int(state["kafka"]["pid"]),
            postgres_pid=int(state["postgres"]["pid"]),
            kafka_version=str(state["kafka"]["version"]),
            directory=directory,
        )
    finally:
        subprocess.run([*launcher, "stop"], env=env, check=False, stdout=sys.stderr)
        if keep:
            print(f"[bench] stack directory kept: {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- phases


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


async def processed(pool: asyncpg.Pool, table: str = "processed_event") -> int:
    try:
        return int(await pool.fetchval(f"SELECT count(*) FROM scoring.{table}"))
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return 0  # scoring has not created its schema yet


async def transaction_stats(pool: asyncpg.Pool) -> dict[str, Any]:
    """processed_at defaults to now(), the start time of the transaction that claimed the event:
    one distinct value per scoring batch transaction."""
    rows = await pool.fetch(
        "SELECT processed_at, count(*) AS n FROM scoring.processed_event "
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


def log_tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


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
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap,
        "DATABASE_URL": stack.database_url,
        "ALLIANCE_HTTP_PORT": str(port),
        "ALLIANCE_SCORING_BATCH": str(batch),
    }
    pool = await asyncpg.create_pool(stack.database_url, min_size=2, max_size=3)
    assert pool is not None
    log_file = log_path.open("wb")
    proc: asyncio.subprocess.Process | None = None
    try:
        cpu0 = meter.snapshot()
        t0 = time.perf_counter()
        command = ["-m", "alliance_scoring"]
        if profile is not None:
            command = ["-c", PROFILE_WRAPPER, str(profile)]
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *command,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        meter.scoring_pid = proc.pid

        ready: dict[str, float] = {}

        async def wait_ready() -> None:
            async with httpx.AsyncClient(timeout=5) as client:
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        r = await client.get(f"http://127.0.0.1:{port}/readyz")
                        if r.status_code == 200:
                            ready["at"] = time.perf_counter() - t0
                            ready["count"] = await processed(pool)
                            return
                    await asyncio.sleep(0.05)

        ready_task = asyncio.create_task(wait_ready())
        samples: list[tuple[float, int]] = []
        while True:
            count = await processed(pool)
            samples.append((time.perf_counter() - t0, count))
            if count >= n:
                break
            if proc.returncode is not None:
                raise RuntimeError(
                    f"scoring exited with {proc.returncode}; end of its log:\n{log_tail(log_path)}"
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
        proc.send_signal(signal.SIGTERM)
        try:
            exit_code: int | None = await asyncio.wait_for(proc.wait(), timeout=30)
        except TimeoutError:
            exit_code = None
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
            "WHERE table_schema = 'scoring' ORDER BY table_name"
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
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log_file.close()
        await pool.close()


# ---------------------------------------------------------------- run and report


async def run(args: argparse.Namespace, stack: Stack, deadline: float) -> dict[str, Any]:
    meter = CpuMeter(stack.kafka_pid, stack.postgres_pid)
    source = source_revision()  # before the scoring process imports the code
    t = time.perf_counter()
    events, cases = generate_events(args.events, args.seed)
    print(
        f"[bench] generated {len(events)} events in {time.perf_counter() - t:.1f} s",
        file=sys.stderr,
    )

    await wait_for_leaders(stack.bootstrap, RESPONSES.name)
    fill_phase, value_bytes = await fill(stack, events, meter)
    del events
    print(f"[bench] fill: {fill_phase.rate:,.0f} events/s", file=sys.stderr)
    adapter = TypeAdapter(ResponseSubmitted)
    drain_passes: dict[str, list[float]] = {}

    async def median_drain(name: str, decode: Callable[[bytes], object] | None) -> Phase:
        """Several passes (each a fresh consumer from offset 0); the median pass counts."""
        passes = [
            await drain(stack, args.events, args.partitions, meter, name, decode)
            for _ in range(args.drain_passes)
        ]
        drain_passes[name] = [round(p.rate) for p in passes]
        print(f"[bench] {name}: {drain_passes[name]} events/s", file=sys.stderr)
        return sorted(passes, key=lambda p: p.seconds)[len(passes) // 2]

    raw = await median_drain("raw drain", None)
    validated = await median_drain("drain + validate_json", adapter.validate_json)

    log_path = Path(args.scoring_log or stack.directory / "logs" / "bench-scoring.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    scoring = await score_all(
        stack, args.events, args.batch, meter, log_path, deadline, args.profile
    )
    sizes = await topic_sizes(stack.bootstrap, [SCORED.name, DEAD_LETTER.name])

    pg = await asyncpg.connect(stack.database_url)
    try:
        pg_version = str(await pg.fetchval("SHOW server_version"))
    finally:
        await pg.close()

    phases = [fill_phase, raw, validated, scoring.from_start, scoring.from_ready]
    if scoring.steady:
        phases.append(scoring.steady)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine() | {"kafka": stack.kafka_version, "postgresql": pg_version},
        "source": source,
        "config": {
            "events": args.events,
            "partitions": args.partitions,
            "cases": cases,
            "scoring_batch": args.batch,
            "scoring_under_cprofile": args.profile is not None,
            "getmany_max_records": MAX_RECORDS,
            "drain_passes": args.drain_passes,
            "avg_value_bytes": round(value_bytes / args.events),
            "seed": args.seed,
        },
        "phases": [
            {
                "name": p.name,
                "events": p.events,
                "seconds": round(p.seconds, 3),
                "events_per_s": round(p.rate),
                "cpu_s": p.cpu_s,
            }
            for p in phases
        ],
        "drain_passes_events_per_s": drain_passes,
        "ratio_raw_drain_to_scoring_from_ready": round(raw.rate / scoring.from_ready.rate, 1),
        "ratio_raw_drain_to_scoring_from_start": round(raw.rate / scoring.from_start.rate, 1),
        "scoring": {
            k: v
            for k, v in asdict(scoring).items()
            if k not in ("from_start", "from_ready", "steady")
        },
        "topics_after": sizes,
    }


def report(result: dict[str, Any]) -> str:
    m, c = result["machine"], result["config"]
    s = result["scoring"]
    lines = [
        f"machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, "
        f"Python {m['python']}, Kafka {m['kafka']}, PostgreSQL {m['postgresql']}",
        f"source: commit {result['source']['commit']}, uncommitted changes in "
        f"{result['source']['uncommitted'] or 'none'} ({result['source']['scoring_package']})",
        f"workload: {c['events']} events (avg {c['avg_value_bytes']} B), {c['cases']} cases, "
        f"{c['partitions']} partitions, scoring batch {c['scoring_batch']}",
        "",
        f"{'phase':<24}{'events/s':>10}{'seconds':>9}   CPU-s (bench/kafka/postgres/scoring/other)",
    ]
    for p in result["phases"]:
        cpu = p["cpu_s"]
        cpu_text = "/".join(
            f"{cpu[k]:.1f}" if k in cpu else "-"
            for k in ("bench", "kafka", "postgres", "scoring", "other")
        )
        lines.append(f"{p['name']:<24}{p['events_per_s']:>10,}{p['seconds']:>9.2f}   {cpu_text}")
    tx = s["transactions"]
    lines += [
        "",
        f"ratio raw drain / scoring (from ready): {result['ratio_raw_drain_to_scoring_from_ready']}"
        f"   (from start: {result['ratio_raw_drain_to_scoring_from_start']})",
        f"drain passes, events/s (median reported): {result['drain_passes_events_per_s']}",
        f"scoring: ready after {s['ready_after_s']} s with {s['processed_at_ready']} processed; "
        f"first event after {s['first_event_after_s']} s; outbox empty after "
        f"{s['outbox_empty_after_s']} s; SIGTERM to exit {s['shutdown_s']} s "
        f"(code {s['exit_code']})",
        f"scoring transactions: {tx['count']}, size mean {tx['size_mean']} / median "
        f"{tx['size_median']} / max {tx['size_max']}, single-event {tx['single_event']}; "
        f"gap between starts ms median {tx.get('gap_ms_median')} / p95 {tx.get('gap_ms_p95')} "
        f"/ max {tx.get('gap_ms_max')}",
        f"rows: {s['rows']}; topics after: {result['topics_after']}",
        f"scoring log levels: {s['log_levels']}",
    ]
    lines += [f"  {w}" for w in s["log_warnings"]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000, help="events to pre-fill")
    parser.add_argument("--partitions", type=int, default=12, help="partitions of the topic")
    parser.add_argument("--batch", type=int, default=500, help="ALLIANCE_SCORING_BATCH")
    parser.add_argument("--timeout", type=float, default=600, help="whole run, seconds")
    parser.add_argument("--seed", type=int, default=1, help="workload random seed")
    parser.add_argument(
        "--drain-passes", type=int, default=3, help="drain passes each; the median is reported"
    )
    parser.add_argument("--json", type=Path, help="also write the result JSON to this file")
    parser.add_argument("--scoring-log", type=Path, help="where scoring's log goes")
    parser.add_argument("--keep", action="store_true", help="keep the stack directory")
    parser.add_argument(
        "--profile",
        type=Path,
        help="run scoring under cProfile and write its stats here (slows scoring down: "
        "its rates are then not comparable)",
    )
    args = parser.parse_args()
    if not 1 <= args.events <= 2_000_000 or not 1 <= args.partitions <= 256:
        parser.error("--events must be 1..2000000 and --partitions 1..256")
    if not 1 <= args.drain_passes <= 20:
        parser.error("--drain-passes must be 1..20")

    deadline = time.monotonic() + args.timeout
    try:
        with throwaway_stack(args.partitions, deadline, args.keep) as stack:
            result = asyncio.run(
                asyncio.wait_for(run(args, stack, deadline), deadline - time.monotonic())
            )
    except (TimeoutError, subprocess.TimeoutExpired):
        print(f"[bench] ERROR: did not finish within --timeout {args.timeout:g} s", file=sys.stderr)
        return 1
    print(report(result))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
