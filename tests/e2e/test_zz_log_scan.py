"""Runs last (file order): every service's log after the end-to-end run holds no answers, no
free text, no secrets and nothing that is not a pseudonymous id."""

from __future__ import annotations

import json
import re
from typing import Any

from alliance_devstack.processes import ServiceProcess

# Fields whose text is ours (or a library's), not the user's: messages, uvicorn's coloured
# message, tracebacks, and dead-letter reasons (rules and error types only, see consumer.py).
OUR_TEXT = {"ts", "level", "service", "logger", "msg", "color_message", "exc", "reason"}
SAFE_VALUE = re.compile(
    r"^(?:|[A-Za-z0-9][A-Za-z0-9._:-]{0,63}"  # pseudonymous ids, enum values, names of things
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # uuids
    r"|[0-9T:.+-]+Z?"  # times
    r"|[A-Za-z]+Error(?:\(.*\))?)$"  # exception class names (with a reason of ours)
)
FORBIDDEN = [
    re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ"),  # a JWT
    re.compile(r"whsec_"),  # a webhook secret
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[a-z]{2,}"),  # an e-mail address
    re.compile(r'"answers"'),  # questionnaire answers
    re.compile(r"talked it through|something else"),  # notes sent in the tests
]


def unsafe_values(record: dict[str, Any]) -> list[str]:
    found = []
    for key, value in record.items():
        if key in OUR_TEXT or value is None or isinstance(value, bool | int | float):
            continue
        for item in value if isinstance(value, list) else [value]:
            if not (isinstance(item, str) and SAFE_VALUE.match(item)):
                found.append(f"{key}={item!r}"[:200])
    return found


def test_service_logs_hold_no_personal_data_or_secrets(
    services: dict[str, ServiceProcess],
) -> None:
    problems: list[str] = []
    lines = 0
    for name, service in services.items():
        for line in service.log_path.read_text().splitlines():
            lines += 1
            for pattern in FORBIDDEN:
                if pattern.search(line):
                    problems.append(f"{name}: {pattern.pattern} in {line[:300]}")
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                problems.append(f"{name}: not a JSON log line: {line[:300]}")
                continue
            problems.extend(f"{name}: {p}" for p in unsafe_values(record))
    assert lines > 0
    assert not problems, "\n".join(problems[:50])
