"""Driving the launcher from another process (the tests, the bench): a stack of its own in a
given directory, started for the duration of a `with` block and stopped after it."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO


@dataclass(frozen=True)
class LaunchedStack:
    directory: Path
    env: dict[str, str]  # what `python -m alliance_devstack env` exports
    state: dict[str, Any]  # the launcher's state.json: what runs where (pids, ports, versions)


def _parse_exports(text: str) -> dict[str, str]:
    return dict(
        line.removeprefix("export ").split("=", 1)
        for line in text.splitlines()
        if line.startswith("export ")
    )


@contextlib.contextmanager
def launched_stack(
    directory: Path,
    *,
    extra_env: Mapping[str, str] | None = None,
    start_timeout: float | None = None,
    output: TextIO | None = None,
    brokers: int = 1,
    services: bool = False,
    secure: bool = False,
) -> Iterator[LaunchedStack]:
    """Kafka (`brokers` nodes, SASL/SCRAM and ACLs if `secure`) and PostgreSQL of its own in
    `directory`, and the four services if asked (the launcher's stdout goes to `output`); always
    stopped at the end, also on error or timeout. The directory is left in place."""
    env = {**os.environ, **(extra_env or {}), "ALLIANCE_STACK_DIR": str(directory)}
    # The launcher would adopt an external database; this stack must own its own.
    env.pop("DATABASE_URL", None)
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    launcher = [sys.executable, "-m", "alliance_devstack"]
    try:
        start = [*launcher, "start", "--brokers", str(brokers)]
        start += (["--services"] if services else []) + (["--secure"] if secure else [])
        subprocess.run(start, env=env, check=True, stdout=output, timeout=start_timeout)
        exports = subprocess.run(
            [*launcher, "env"], env=env, check=True, capture_output=True, text=True
        ).stdout
        state = json.loads((directory / "state.json").read_text())
        yield LaunchedStack(directory, _parse_exports(exports), state)
    finally:
        subprocess.run([*launcher, "stop"], env=env, check=False, stdout=output)
