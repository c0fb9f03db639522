"""JSON-lines logging. Log ids (pseudonymous) and counts only: never answers or personal data,
and errors without their messages (see `describe`)."""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from alliance_contracts.instruments import RuleBroken
from alliance_platform.tracing import log_ids

_RESERVED = set(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if (ids := log_ids()) is not None:  # the active span's, when tracing is on
            entry["trace_id"], entry["span_id"] = ids
        if record.exc_info and record.exc_info[1] is not None:
            entry["exc"] = describe(record.exc_info[1])
        return json.dumps(entry, default=str)


def describe(exc: BaseException) -> str:
    """Where an error happened and its type, without its message: messages can quote the data
    that caused them (a driver quoting a value, a validator its input). A rule's message names
    a field and a rule only, so it is kept."""
    parts = []
    seen: BaseException | None = exc
    while seen is not None:
        frames = "".join(traceback.format_tb(seen.__traceback__))
        name = type(seen).__name__
        parts.append(
            f"{frames}{name}: {seen}" if isinstance(seen, RuleBroken) else f"{frames}{name}"
        )
        seen = seen.__cause__ or seen.__context__
    return "\n-- caused by --\n".join(parts)


# A warning or error repeated word for word is written once per this many seconds, with the
# count of those left out (`repeated`): a Kafka outage made aiokafka write the same connection
# error 87,963 times in nine minutes.
REPEAT_INTERVAL_S = 60.0


class RepeatsOncePerInterval(logging.Filter):
    """Lets a WARNING or worse through when its logger, level and message were not written in
    the last `interval` seconds; counts the others, and the next one written carries the count
    (`repeated`). Remembers the last `keys` distinct messages."""

    def __init__(
        self,
        interval: float = REPEAT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        keys: int = 1024,
    ) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self.keys = keys
        # (logger, level, message) -> (when last written, left out since)
        self.seen: OrderedDict[tuple[str, int, str], tuple[float, int]] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, record.getMessage())
        now = self.clock()
        written = self.seen.get(key)
        if written is not None and now - written[0] < self.interval:
            self.seen[key] = (written[0], written[1] + 1)
            return False
        if written is not None and written[1]:
            record.repeated = written[1]
        self.seen[key] = (now, 0)
        self.seen.move_to_end(key)
        while len(self.seen) > self.keys:
            self.seen.popitem(last=False)
        return True


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(RepeatsOncePerInterval())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel("WARNING")
