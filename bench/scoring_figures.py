"""The scoring bench's headline rows for the suite (`bench.comparison`): Alliance beside its
anchors (raw drain, raw executemany and COPY of the same rows), the figures without an anchor
(CPU per event, live latency, with issue 12's targets in the note), and the cost rows."""

from __future__ import annotations

from typing import Any

from bench.comparison import Comparison, Cost

PROCESSES = ("scoring", "kafka", "postgres")


def _per_1000(cpu_s: dict[str, float], process: str, events: int) -> float | None:
    if process not in cpu_s or events <= 0:
        return None
    return round(cpu_s[process] / events * 1000, 3)


def costs(phases: list[tuple[str, int, dict[str, float], dict[str, float]]]) -> list[Cost]:
    """(phase label, events, CPU-s per process, scoring's memory) → one Cost per process; the
    RSS is scoring's at the end of the phase (Kafka and PostgreSQL serve the whole stack)."""
    return [
        Cost(
            process=process,
            bench=label,
            cpu_s_per_1000=_per_1000(cpu_s, process, events),
            unit="events",
            rss_mib=memory.get("rss") if process == "scoring" else None,
        )
        for label, events, cpu_s, memory in phases
        for process in PROCESSES
        if process in cpu_s
    ]


def comparisons(
    result: dict[str, Any], raw_drain: float, from_ready: float, rebuild: float
) -> list[Comparison]:
    rows = [
        Comparison(
            "scoring: from ready",
            "rate",
            "events/s",
            "higher",
            from_ready,
            "aiokafka drain",
            raw_drain,
            "same topic, same run; the drain decodes nothing",
        )
    ]
    raw = result.get("raw_postgres")
    if raw:
        rows += [
            Comparison(
                "scoring: rebuild",
                "rate",
                "events/s",
                "higher",
                rebuild,
                name,
                float(raw[method]["events_per_s"]),
                note,
            )
            for method, name, note in (
                (
                    "executemany",
                    "executemany",
                    "asyncpg executemany upserts of the same rows; "
                    "target: rebuild >= 50% of it (ratio <= 2)",
                ),
                ("copy", "COPY", "asyncpg COPY of the same rows (no upsert)"),
            )
        ]
    cpu = result["scoring"]["cpu_from_ready"].get("scoring")
    events = result["config"]["events"] - result["scoring"]["processed_at_ready"]
    if cpu is not None and events > 0:
        rows.append(
            Comparison(
                "scoring: CPU per event",
                "from ready",
                "µs",
                "lower",
                round(cpu / events * 1e6, 1),
                note="target <= 100 µs of scoring-process CPU per event",
            )
        )
    for live in result.get("live_latency", []):
        for q in ("p50", "p99"):
            if live[f"{q}_ms"] is None:
                continue
            goal = live["label"] != "20/s" and q == "p99"
            rows.append(
                Comparison(
                    f"scoring: live {q} at {live['label']}",
                    "produce→scored",
                    "ms",
                    "lower",
                    live[f"{q}_ms"],
                    note=f"{live['rate_per_s']}/s, {live['matched']}/{live['sent']} matched"
                    + ("; goal p99 <= 250 ms at half of max" if goal else ""),
                )
            )
    return rows
