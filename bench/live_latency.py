"""Live latency, open loop: new events produced on a fixed schedule to the running scoring
service (caught up), each timed from its intended send time to its `response.scored` on
`alliance.scored.v1` (matched by `payload.source_event_id`, the input's event id).

A send is never delayed by earlier responses: event i is due at start + i / rate, and its
latency counts from then, so a sender that falls behind (or a stalled broker) shows in the tail
instead of hiding it, as a closed-loop client would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from alliance_contracts.topics import RESPONSES, SCORED
from alliance_devstack.processes import ServiceProcess
from alliance_platform.kafka import event_headers
from bench.machine import CpuMeter, memory_mib
from bench.measurement import POLL_S, Stack, partitions_of
from bench.scoring_process import consumed, scoring_env
from bench.workload import generate_events

SCORED_TYPE = b"response.scored"
MATCH_WITHIN_S = 30.0  # after the last send, how long the scored events may take


@dataclass(frozen=True)
class Pace:
    label: str  # "20/s", "1/2 max"
    rate: float  # events per second
    seconds: float


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class ScoredWatch:
    """Records when each `response.scored` arrives, from the topic's end onwards."""

    def __init__(self, bootstrap: str, expected: set[uuid.UUID]) -> None:
        self.bootstrap = bootstrap
        self.expected = expected
        self.arrived: dict[uuid.UUID, float] = {}  # of the expected ones
        self.all_arrived = asyncio.Event()
        self.consumer: AIOKafkaConsumer | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        parts = (await partitions_of(self.bootstrap, [SCORED.name]))[SCORED.name]
        tps = [TopicPartition(SCORED.name, p) for p in parts]
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id="bench-latency-watch",
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=50,
        )
        await self.consumer.start()
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)  # resolved now, before anything is sent
        self.task = asyncio.create_task(self._watch(self.consumer))

    async def _watch(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=100, max_records=1000)
            now = time.perf_counter()
            for records in batch.values():
                for r in records:
                    if dict(r.headers or ()).get("event_type") != SCORED_TYPE:
                        continue  # clinical signals and withdrawals
                    source = uuid.UUID(json.loads(r.value)["payload"]["source_event_id"])
                    if source in self.expected:
                        self.arrived.setdefault(source, now)
            if len(self.arrived) == len(self.expected):
                self.all_arrived.set()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.consumer is not None:
            await self.consumer.stop()


async def paced(
    stack: Stack, pace: Pace, seed: int, meter: CpuMeter, scoring_pid: int, deadline: float
) -> dict[str, Any]:
    """One open-loop phase: ceil(rate x seconds) new events (new cases), then until every one
    is scored or MATCH_WITHIN_S passes. CPU and memory cover the sending and the matching."""
    events, _ = generate_events(
        max(1, math.ceil(pace.rate * pace.seconds)), seed, case_prefix=f"live{seed}"
    )
    records = [
        (e.event_id, e.case_id.encode(), e.model_dump_json().encode(), event_headers(e))
        for e in events
    ]
    due: dict[uuid.UUID, float] = {}
    behind_max = 0.0
    watch = ScoredWatch(stack.bootstrap, {event_id for event_id, *_ in records})
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.bootstrap,
        client_id="bench-latency",
        acks="all",
        enable_idempotence=True,
    )
    await producer.start()
    try:
        await producer.partitions_for(RESPONSES.name)
        await watch.start()
        futures = []
        cpu0, t0 = meter.snapshot(), time.perf_counter()
        for i, (event_id, key, value, headers) in enumerate(records):
            at = t0 + i / pace.rate
            if (wait := at - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            behind_max = max(behind_max, time.perf_counter() - at)
            due[event_id] = at
            futures.append(
                await producer.send(RESPONSES.name, value=value, key=key, headers=headers)
            )
        await producer.flush()
        sent_s = time.perf_counter() - t0
        for f in futures:
            f.result()  # raises if a send failed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                watch.all_arrived.wait(), min(MATCH_WITHIN_S, deadline - time.monotonic())
            )
        span, cpu1, memory = time.perf_counter() - t0, meter.snapshot(), memory_mib(scoring_pid)
    finally:
        await watch.stop()
        await producer.stop()
    latencies = sorted(
        (watch.arrived[i] - at) * 1000 for i, at in due.items() if i in watch.arrived
    )
    return {
        "label": pace.label,
        "rate_per_s": round(pace.rate, 1),
        "sent": len(due),
        "matched": len(latencies),
        "sending_s": round(sent_s, 2),
        "span_s": round(span, 2),
        "sender_behind_ms_max": round(behind_max * 1000, 1),
        **{
            f"{name}_ms": (round(v, 1) if (v := percentile(latencies, q)) is not None else None)
            for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
        },
        "cpu_s": CpuMeter.delta(cpu0, cpu1),
        "memory_mib": memory,
    }


async def live_latency(
    stack: Stack,
    events: int,
    batch: int,
    paces: list[Pace],
    seed: int,
    meter: CpuMeter,
    log_path: Path,
    deadline: float,
) -> list[dict[str, Any]]:
    """Starts scoring on its live generation, waits until it has consumed the `events`
    pre-filled ones, then runs each pace in turn (each with new cases); stops scoring."""
    scoring = ServiceProcess("scoring", scoring_env(stack, batch), log_path)
    pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=1)
    assert pool is not None
    try:
        meter.scoring_pid = scoring.start(append_log=True)
        await asyncio.to_thread(scoring.wait_ready)
        while await consumed(pool) < events:
            if time.monotonic() > deadline:
                raise TimeoutError("scoring did not catch up before the latency phases")
            await asyncio.sleep(POLL_S)
        return [
            await paced(stack, pace, seed + 1 + i, meter, scoring.pid, deadline)
            for i, pace in enumerate(paces)
        ]
    finally:
        await asyncio.to_thread(scoring.stop)
        meter.scoring_pid = None
        await pool.close()
