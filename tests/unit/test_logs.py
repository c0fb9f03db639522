"""Errors reach the logs without their messages (which can quote data), rules with theirs; a
warning repeated word for word is written once per interval, with a count."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable

from alliance_contracts.instruments import RuleBroken
from alliance_platform.logs import JsonFormatter, RepeatsOncePerInterval


def logged(fail: Callable[[], None]) -> dict[str, str]:
    try:
        fail()
    except Exception:
        record = logging.LogRecord("t", logging.ERROR, "p", 1, "failed", None, sys.exc_info())
    return json.loads(JsonFormatter("test").format(record))  # type: ignore[no-any-return]


NOTE = "a client's note: feeling " + "hopeless"  # data, as it would arrive


def chained() -> None:
    try:
        raise ValueError(NOTE)
    except ValueError as exc:
        raise KeyError(NOTE) from exc


def rule() -> None:
    raise RuleBroken("ended_at: must not be in the future")


def test_an_error_message_never_reaches_the_log() -> None:
    entry = logged(chained)
    assert "hopeless" not in json.dumps(entry)
    assert "KeyError" in entry["exc"]
    assert entry["exc"].endswith("ValueError")  # the cause, by type


def test_a_rule_keeps_its_message() -> None:
    assert logged(rule)["exc"].endswith("RuleBroken: ended_at: must not be in the future")


def test_a_repeated_error_is_written_once_per_interval_with_a_count() -> None:
    """As aiokafka logs while Kafka is down: the same connection error many times a second."""
    now = [0.0]
    repeats = RepeatsOncePerInterval(interval=60, clock=lambda: now[0])

    def log(message: str, level: int = logging.ERROR) -> logging.LogRecord | None:
        record = logging.LogRecord("aiokafka", level, "p", 1, message, None, None)
        return record if repeats.filter(record) else None

    written = []
    for second in range(150):  # two and a half minutes, 10 errors a second
        now[0] = float(second)
        written += [r for r in (log("Unable to connect to node 1") for _ in range(10)) if r]
    assert len(written) == 3  # at 0, 60 and 120 s
    assert [getattr(r, "repeated", None) for r in written] == [None, 599, 599]
    assert log("Unable to connect to node 2") is not None  # another message: its own count
    assert log("fetched a batch", logging.INFO) is not None  # below WARNING: never held back
    assert log("fetched a batch", logging.INFO) is not None
    assert json.loads(JsonFormatter("test").format(written[1]))["repeated"] == 599
