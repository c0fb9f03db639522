"""JSON-lines logging. Log ids (pseudonymous) and counts only: never answers or personal data,
and errors without their messages (see `describe`)."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

from alliance_contracts.instruments import RuleBroken

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


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel("WARNING")
