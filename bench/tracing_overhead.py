"""What tracing adds to each hop, off (the default) and on (decision 0025).

    uv run --frozen python -m bench.tracing_overhead

Off, a hop is one check of a module global and a shared no-op context manager; on, spans are
made and kept by the SDK (here with no exporter: what the process itself spends). Per call, in
nanoseconds, best of five runs. Prints a table; asserts nothing.
"""

from __future__ import annotations

import contextlib
import logging
import timeit
from collections.abc import Callable

from opentelemetry.sdk.trace import TracerProvider

from alliance_contracts.topics import RESPONSES
from alliance_platform import tracing
from alliance_platform.dead_letters import Source
from alliance_platform.logs import JsonFormatter
from alliance_platform.outbox import OutboxMessage
from alliance_platform.tracking import Delivered
from bench.workload import generate_events

HEADER = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _entered(make: Callable[[], contextlib.AbstractContextManager[object]]) -> Callable[[], None]:
    def run() -> None:
        with make():
            pass

    return run


def hops() -> dict[str, Callable[[], object]]:
    [event], _ = generate_events(1, seed=1)
    message = OutboxMessage(RESPONSES, event)
    record = logging.makeLogRecord({"msg": "batch", "levelno": logging.INFO})
    formatter = JsonFormatter("scoring")
    source = Source(RESPONSES.name, 0, 0, None, b"{}", (("traceparent", HEADER),))
    batch = [Delivered(source, event)] * 100
    return {
        "outbox row (OutboxMessage.row)": message.row,
        "trace lookup of a row (traceparent_for)": lambda: tracing.traceparent_for(event),
        "transaction span (enter and exit)": _entered(lambda: tracing.transaction("s")),
        "outbox enqueue span": _entered(lambda: tracing.enqueue("s", 1)),
        "consumer batch of 100 records": _entered(lambda: tracing.consuming(batch)),
        "relay round of 100 rows": _entered(lambda: tracing.publishing([b.source for b in batch])),
        "log line (JsonFormatter.format)": lambda: formatter.format(record),
    }


def per_call_ns(fn: Callable[[], object]) -> float:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return min(timer.repeat(5, number)) / number * 1e9


def main() -> None:
    tracing.use_provider(None)
    off = {name: per_call_ns(fn) for name, fn in hops().items()}
    tracing.use_provider(TracerProvider())  # spans made and ended, exported nowhere
    on = {name: per_call_ns(fn) for name, fn in hops().items()}
    tracing.use_provider(None)
    print(f"{'hop':42} {'off ns':>10} {'on ns':>10}")
    for name in off:
        print(f"{name:42} {off[name]:10.0f} {on[name]:10.0f}")


if __name__ == "__main__":
    main()
