"""Raw Kafka drain rate against the scoring service's projection rate, on one pre-filled topic.

    uv run python -m bench.drain_vs_scoring [--events 50000] [--partitions 12] [--batch 500]

Starts its own throwaway stack with the project's launcher (alliance_devstack: real Kafka and
PostgreSQL on loopback, in a fresh ALLIANCE_STACK_DIR, so `alliance.responses.v1` starts empty),
then:

1. fill: produces N valid ResponseSubmitted events (SRS and WAI-SR, client/parent/therapist
   forms, ~N/10 cases, keyed by case id) with one aiokafka producer, sends not awaited one by
   one, then a flush;
2. drain: a group-less AIOKafkaConsumer assigned every partition reads all N records with
   getmany(max_records=500), raw bytes; then a second pass that validates each record with
   pydantic (`TypeAdapter(ResponseSubmitted).validate_json`);
3. scoring: the real scoring service as a separate OS process (`python -m alliance_scoring`),
   timed from process start and from /readyz = 200 until the live generation's tracked
   positions cover the N events (polled every 0.25 s), then stopped with SIGTERM;
4. rebuild: scoring started again (its live generation, idle) and `alliance rebuild scoring
   --wait` timed until the new generation, built beside it from the same topic, goes live;
5. raw PostgreSQL: the rows of that generation written again by asyncpg `executemany` upserts
   and by COPY, in batches of --batch events, into a scratch schema (bench/pg_anchors.py);
6. live latency: scoring running and caught up, new events produced open loop at 20/s and at
   half of the scoring rate from ready, timed to their `response.scored` (bench/live_latency.py).

Prints a table, the ratio raw drain / scoring, the suite's rows (`comparisons`, `costs`:
bench/scoring_figures.py), and the result as JSON. The stack is always
stopped, also on error or timeout. Measures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import TypeAdapter

from alliance_contracts.events import ResponseSubmitted
from alliance_contracts.topics import DEAD_LETTER, RESPONSES, SCORED
from bench.live_latency import Pace, live_latency
from bench.machine import CpuMeter, machine, source_revision
from bench.measurement import MAX_RECORDS, Phase, Stack, drain, fill, topic_sizes, wait_for_leaders
from bench.pg_anchors import raw_writes
from bench.report import report
from bench.scoring_figures import comparisons, costs
from bench.scoring_process import rebuild_beside_live, score_all, scoring_slot
from bench.throwaway import throwaway_stack
from bench.workload import generate_events


@contextlib.contextmanager
def scoring_stack(partitions: int, deadline: float, keep: bool) -> Iterator[Stack]:
    partitioned = {"ALLIANCE_TOPIC_PARTITIONS": str(partitions)}
    with throwaway_stack("alliance-bench-", deadline, keep, partitioned) as launched:
        yield Stack(
            bootstrap=launched.env["KAFKA_BOOTSTRAP_SERVERS"],
            database_url=launched.env["DATABASE_URL"],
            kafka_pid=int(launched.state["kafka"]["pid"]),
            postgres_pid=int(launched.state["postgres"]["pid"]),
            kafka_version=str(launched.state["kafka"]["version"]),
            directory=launched.directory,
        )


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
    rebuild = await rebuild_beside_live(stack, args.batch, meter, log_path, deadline)
    sizes = await topic_sizes(stack.bootstrap, [SCORED.name, DEAD_LETTER.name])

    pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=1)
    assert pool is not None
    try:
        pg_version = str(await pool.fetchval("SHOW server_version"))
        slot = await scoring_slot(pool)
    finally:
        await pool.close()
    raw_pg: dict[str, Any] | None = None
    if args.anchor_passes and slot:
        raw_pg = await raw_writes(
            stack.database_url, slot, rebuild.phase.events, args.batch, args.anchor_passes, meter
        )
        print(
            f"[bench] raw PostgreSQL, {raw_pg['rows']} rows: executemany "
            f"{raw_pg['executemany']['passes_rows_per_s']} rows/s, "
            f"COPY {raw_pg['copy']['passes_rows_per_s']} rows/s",
            file=sys.stderr,
        )
    paces = [Pace(f"{args.latency_rate:g}/s", args.latency_rate, args.latency_seconds)]
    if math.isfinite(scoring.from_ready.rate) and scoring.from_ready.rate >= 2:
        paces.append(Pace("1/2 max", scoring.from_ready.rate / 2, args.latency_seconds))
    latencies = (
        await live_latency(
            stack, args.events, args.batch, paces, args.seed, meter, log_path, deadline
        )
        if args.latency_seconds > 0
        else []
    )
    for live in latencies:
        print(
            f"[bench] live {live['label']} ({live['rate_per_s']}/s): p50/p95/p99 "
            f"{live['p50_ms']}/{live['p95_ms']}/{live['p99_ms']} ms, "
            f"{live['matched']}/{live['sent']} matched",
            file=sys.stderr,
        )

    phases = [fill_phase, raw, validated, scoring.from_start, scoring.from_ready]
    if scoring.steady:
        phases.append(scoring.steady)
    phases.append(rebuild.phase)
    if raw_pg is not None:
        for method in ("executemany", "copy"):
            m = raw_pg[method]
            phases.append(Phase(f"raw pg {method}", rebuild.phase.events, m["seconds"], m["cpu_s"]))
    result: dict[str, Any] = {
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
        "ratio_scoring_from_ready_to_rebuild": round(
            scoring.from_ready.rate / rebuild.phase.rate, 2
        ),
        "scoring": {
            k: v
            for k, v in asdict(scoring).items()
            if k not in ("from_start", "from_ready", "steady")
        },
        "topics_after": sizes,
        "rebuild": {"memory_mib": rebuild.memory_mib, "row_writes": rebuild.row_writes},
        "raw_postgres": raw_pg,
        "live_latency": latencies,
    }
    result["comparisons"] = [
        c.as_json()
        for c in comparisons(result, raw.rate, scoring.from_ready.rate, rebuild.phase.rate)
    ]
    result["costs"] = [
        c.as_json()
        for c in costs(
            [
                (
                    "scoring:live",
                    args.events - scoring.processed_at_ready,
                    scoring.cpu_from_ready,
                    scoring.memory_mib,
                ),
                ("scoring:rebuild", rebuild.phase.events, rebuild.phase.cpu_s, rebuild.memory_mib),
            ]
            + [
                (f"scoring:{live['label']}", live["sent"], live["cpu_s"], live["memory_mib"])
                for live in latencies
            ]
        )
    ]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000, help="events to pre-fill")
    parser.add_argument("--partitions", type=int, default=12, help="partitions of the topic")
    parser.add_argument("--batch", type=int, default=500, help="ALLIANCE_SCORING_BATCH")
    parser.add_argument("--timeout", type=float, default=900, help="whole run, seconds")
    parser.add_argument("--seed", type=int, default=1, help="workload random seed")
    parser.add_argument(
        "--drain-passes", type=int, default=3, help="drain passes each; the median is reported"
    )
    parser.add_argument(
        "--anchor-passes",
        type=int,
        default=3,
        help="raw PostgreSQL passes each (executemany, COPY); the median is reported; 0: none",
    )
    parser.add_argument(
        "--latency-seconds",
        type=float,
        default=20,
        help="each open-loop live-latency phase, seconds; 0: none",
    )
    parser.add_argument(
        "--latency-rate", type=float, default=20, help="the fixed live rate, events/s"
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
    if not 0 <= args.anchor_passes <= 20 or not 0 <= args.latency_seconds <= 600:
        parser.error("--anchor-passes must be 0..20 and --latency-seconds 0..600")
    if not 0 < args.latency_rate <= 10_000:
        parser.error("--latency-rate must be above 0 and at most 10000")

    deadline = time.monotonic() + args.timeout
    try:
        with scoring_stack(args.partitions, deadline, args.keep) as stack:
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
