"""The bench's result as a table for people (the JSON is the result itself)."""

from __future__ import annotations

from typing import Any

from bench.comparison import Comparison, Cost, table


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
    rebuild = result["rebuild"]
    lines += [
        f"scoring memory MiB at the end: live {s['memory_mib']}, rebuild {rebuild['memory_mib']}",
        f"rows written (inserts + updates + deletes, PostgreSQL's statistics): live "
        f"{sum(s['row_writes'].values())} {s['row_writes']}; rebuild "
        f"{sum(rebuild['row_writes'].values())}",
    ]
    if raw := result.get("raw_postgres"):
        lines.append(
            f"raw PostgreSQL, the generation's {raw['rows']} rows in {raw['transactions']} "
            f"transactions {raw['rows_per_table']}: executemany "
            f"{raw['executemany']['rows_per_s']:,} rows/s "
            f"(passes {raw['executemany']['passes_rows_per_s']}), "
            f"COPY {raw['copy']['rows_per_s']:,} rows/s (passes {raw['copy']['passes_rows_per_s']})"
        )
    for live in result.get("live_latency", []):
        lines.append(
            f"live {live['label']} ({live['rate_per_s']}/s open loop, {live['sent']} sent, "
            f"{live['matched']} matched): produce→scored ms p50 {live['p50_ms']} / p95 "
            f"{live['p95_ms']} / p99 {live['p99_ms']} / max {live['max_ms']}; sender behind at "
            f"most {live['sender_behind_ms_max']} ms"
        )
    rows = [Comparison.from_json(c) for c in result.get("comparisons", [])]
    costs = [Cost(**c) for c in result.get("costs", [])]
    return "\n".join([*lines, "", table(rows, costs)])
