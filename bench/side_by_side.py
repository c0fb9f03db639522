"""Alliance and its anchor under the same loads, one after the other in each phase: a warm-up,
the closed loop at -c 16 (maximum rate, with the CPU each process used), then the open loop at
20/s and at half of each one's own maximum. Turns the results into the suite's rows."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from bench.comparison import Comparison, Cost
from bench.http_stack import process_cpu, rss_mib, say
from bench.loadtools import CONNECTIONS, LoadResult, Target, closed_loop, measured, open_loop
from bench.machine import machine_busy_seconds

SLOW_RATE = 20  # requests/s: a steady, light load


@dataclass(frozen=True)
class Durations:
    warm_s: float
    closed_s: float
    open_s: float


FULL = Durations(warm_s=3, closed_s=15, open_s=10)
QUICK = Durations(warm_s=1, closed_s=3, open_s=3)


@dataclass(frozen=True)
class Server:
    name: str  # "intake", "hello-world", "gateway", "PostGraphile"
    target: Target
    pid: int  # the server process (with its workers): CPU and memory
    database: tuple[str, int] | None = None  # PostgreSQL's label and postmaster: CPU only
    unique_bodies: bool = True

    @property
    def processes(self) -> dict[str, int]:
        return {self.name: self.pid} | (dict([self.database]) if self.database else {})


def _load_tool_cpu() -> float:
    """CPU seconds of the bench's reaped children: the load tools (servers are reaped only
    when they stop)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_meters(server: Server, background: dict[str, int]) -> dict[str, Callable[[], float]]:
    """The server's processes, the rest of the stack, the load tool, the bench and the whole
    machine; `other` (what neighbours used) is the machine less all of them."""
    pids = server.processes | background
    return {name: (lambda pid=pid: process_cpu(pid)) for name, pid in pids.items()} | {
        "load tool": _load_tool_cpu,
        "bench": time.process_time,
        "machine": machine_busy_seconds,
    }


def _with_other(result: LoadResult) -> LoadResult:
    cpu = dict(result.cpu_s)
    machine = cpu.pop("machine")
    cpu["other"] = round(machine - sum(cpu.values()), 2)
    result.cpu_s = cpu
    return result


def run_pair(
    anchor: Server,
    alliance: Server,
    durations: Durations,
    run_id: str,
    background: dict[str, int],
) -> dict[str, dict[str, LoadResult]]:
    """Every phase for both servers, anchor first in each. `background`: the stack's other
    processes (Kafka, idle services), measured so that `other` is only the neighbours."""
    pair = (anchor, alliance)
    results: dict[str, dict[str, LoadResult]] = {s.name: {} for s in pair}
    for s in pair:
        say(f"{s.name}: warm-up {durations.warm_s:g} s")
        results[s.name]["warm"] = closed_loop(s.target, durations.warm_s, f"{run_id}-w-{s.name}")
    for s in pair:
        r = measured(
            partial(closed_loop, s.target, durations.closed_s, f"{run_id}-c-{s.name}"),
            _cpu_meters(s, background),
        )
        _with_other(r)
        say(f"{s.name}: -c {CONNECTIONS}: {r.rps:,.0f} rps, p99 {r.p99_ms:.1f} ms")
        results[s.name]["closed"] = r
    for phase, label in (("open 20/s", "slow"), ("open half max", "half")):
        for s in pair:
            rate = SLOW_RATE if label == "slow" else max(1.0, results[s.name]["closed"].rps / 2)
            r = measured(
                partial(
                    open_loop,
                    s.target,
                    rate,
                    durations.open_s,
                    f"{run_id}-{label}-{s.name}",
                    s.unique_bodies,
                ),
                _cpu_meters(s, background),
            )
            _with_other(r)
            say(
                f"{s.name}: {r.mode}: p50 {r.p50_ms:.1f} p99 {r.p99_ms:.1f} ms, {r.non_2xx} non-2xx"
            )
            results[s.name][phase] = r
    for s in pair:  # memory after the loads, while the servers still run
        results[s.name]["closed"].rss_mib = rss_mib(s.pid)
    return results


def rows(
    path: str, anchor: Server, alliance: Server, results: dict[str, dict[str, LoadResult]]
) -> list[Comparison]:
    a, b = results[anchor.name], results[alliance.name]

    def row(
        metric: str,
        unit: str,
        better: str,
        pick: Callable[[LoadResult], float | None],
        phase: str,
        note: str = "",
    ) -> Comparison:
        return Comparison(
            path=path,
            metric=metric,
            unit=unit,
            better="higher" if better == "higher" else "lower",
            alliance=round(pick(b[phase]) or 0.0, 2),
            anchor_name=anchor.name,
            anchor=round(pick(a[phase]) or 0.0, 2),
            note=note,
        )

    half = (
        f"{anchor.name} at {a['open half max'].mode[5:]}, {alliance.name} at "
        f"{b['open half max'].mode[5:]}"
    )
    out = [
        row(f"rps at -c {CONNECTIONS}", "req/s", "higher", lambda r: r.rps, "closed"),
        row(f"p50 at -c {CONNECTIONS}", "ms", "lower", lambda r: r.p50_ms, "closed"),
        row(f"p99 at -c {CONNECTIONS}", "ms", "lower", lambda r: r.p99_ms, "closed"),
    ]
    slow = "open loop"
    if b["closed"].rps < SLOW_RATE:
        slow += f"; {SLOW_RATE}/s is above {alliance.name}'s maximum: requests queue"
    for label, phase, note in (
        ("20/s", "open 20/s", slow),
        ("half max", "open half max", half),
    ):
        out += [
            row(f"p50 at {label}", "ms", "lower", lambda r: r.p50_ms, phase, note),
            row(f"p95 at {label}", "ms", "lower", lambda r: r.p95_ms, phase, note),
            row(f"p99 at {label}", "ms", "lower", lambda r: r.p99_ms, phase, note),
        ]
    return out


def costs(
    bench: str, servers: tuple[Server, ...], results: dict[str, dict[str, LoadResult]]
) -> list[Cost]:
    """CPU seconds per 1,000 requests of each process in its server's closed loop; resident
    memory now (after the runs)."""
    out = []
    for s in servers:
        closed = results[s.name]["closed"]
        for process, pid in s.processes.items():
            cpu = closed.cpu_s.get(process)
            out.append(
                Cost(
                    process=process,
                    bench=bench,
                    cpu_s_per_1000=(
                        round(cpu / closed.requests * 1000, 3)
                        if cpu is not None and closed.requests
                        else None
                    ),
                    unit="requests",
                    rss_mib=closed.rss_mib if pid == s.pid else None,
                )
            )
    return out


def other_cores(results: dict[str, dict[str, LoadResult]]) -> float:
    """How many cores the neighbours kept busy, on average, during the closed loops."""
    closed = [phases["closed"] for phases in results.values()]
    seconds = sum(r.seconds for r in closed)
    return round(sum(r.cpu_s.get("other", 0.0) for r in closed) / seconds, 2) if seconds else 0.0


def details(results: dict[str, dict[str, LoadResult]]) -> dict[str, Any]:
    return {
        server: {phase: r.as_json() for phase, r in phases.items()}
        for server, phases in results.items()
    }
