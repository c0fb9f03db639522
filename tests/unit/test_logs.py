"""Errors reach the logs without their messages (which can quote data), rules with theirs."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable

from alliance_contracts.instruments import RuleBroken
from alliance_platform.logs import JsonFormatter


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
