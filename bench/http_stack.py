"""What the HTTP benchmarks run on: a throwaway stack (the project's launcher in a temporary
ALLIANCE_STACK_DIR), services and anchors as processes of their own, their CPU and memory from
/proc, tokens from the stack's identity provider, and the SQL statements a server sends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from alliance_devstack.processes import ServiceProcess
from alliance_platform.dbroles import service_url
from alliance_platform.devtoken import DevIssuer
from bench.machine import REPO, cpu_seconds
from bench.throwaway import throwaway_stack

# The door's rate limit stays in the path (every request is counted) but never refuses: the
# load comes from one token, and a 429 would measure the limit rather than the service.
DOOR_ENV = {"ALLIANCE_RATE_LIMIT_PER_SECOND": "1000000", "ALLIANCE_RATE_LIMIT_BURST": "1000000"}
EXTERNAL_ENGINES = ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class HttpStack:
    directory: Path
    env: dict[str, str]  # what `python -m alliance_devstack env` exports (admin DATABASE_URL)
    state: dict[str, Any]

    @property
    def admin_url(self) -> str:
        return self.env["DATABASE_URL"]

    @property
    def postgres_pid(self) -> int:
        return int(self.state["postgres"]["pid"])

    def issuer(self) -> DevIssuer:
        return DevIssuer.from_key_file(
            self.env["ALLIANCE_DEV_SIGNING_KEY_FILE"],
            self.env["ALLIANCE_JWT_ISSUER"],
            self.env["ALLIANCE_JWT_AUDIENCE"],
        )

    def service_env(self, name: str) -> dict[str, str]:
        """A service's environment as the launcher gives it (its own database role), with the
        door's limit out of the way and the repository importable (the bench's anchors)."""
        return {
            **os.environ,
            **self.env,
            "DATABASE_URL": service_url(self.admin_url, name),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            **DOOR_ENV,
        }

    def log(self, name: str) -> Path:
        return self.directory / "logs" / f"bench-{name}.log"

    def start_services(self) -> None:
        """The four services, started by the launcher as `./dev up` starts them; the launcher
        stops them with the stack."""
        subprocess.run(
            [sys.executable, "-m", "alliance_devstack", "start", "--services"],
            env={
                # The launcher would adopt a database or broker named in the environment.
                **{k: v for k, v in os.environ.items() if k not in EXTERNAL_ENGINES},
                **DOOR_ENV,
                "ALLIANCE_STACK_DIR": str(self.directory),
            },
            check=True,
            stdout=sys.stderr,
            timeout=300,
        )
        state = _read_state(self.directory)
        self.state["services"] = state.get("services", {})

    def service_pid(self, name: str) -> int:
        return int(self.state["services"][name]["pid"])

    def service_base_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.state['services'][name]['port']}"


def _read_state(directory: Path) -> dict[str, Any]:
    return dict(json.loads((directory / "state.json").read_text()))


@contextlib.contextmanager
def http_stack(deadline: float, keep: bool) -> Iterator[HttpStack]:
    """Kafka and PostgreSQL of their own (bench/throwaway.py); services started on demand."""
    with throwaway_stack("alliance-bench-http-", deadline, keep) as launched:
        yield HttpStack(launched.directory, dict(launched.env), dict(launched.state))


@contextlib.contextmanager
def running(
    name: str, env: Mapping[str, str], log: Path, argv: Sequence[str] | None = None
) -> Iterator[ServiceProcess]:
    """A Python server process (`python -m alliance_<name>` or `argv`) until `/readyz`; stopped
    by its PID at the end, also on error."""
    process = ServiceProcess(name, env, log, argv=argv)
    process.start(append_log=False)
    try:
        process.wait_ready(timeout=90)
        yield process
    finally:
        process.stop()


def process_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (a server's workers, PostgreSQL's backends)."""
    return cpu_seconds(pid, with_children=True)


def rss_mib(pid: int) -> float | None:
    """Resident memory of a process and its direct children (workers), MiB."""
    total_kib = 0
    found = False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        ppid = re.search(r"^PPid:\s+(\d+)", status, re.M)
        if entry.name != str(pid) and (ppid is None or ppid.group(1) != str(pid)):
            continue
        rss = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        if rss:
            total_kib += int(rss.group(1))
            found = found or entry.name == str(pid)
    return round(total_kib / 1024, 1) if found else None


def children(pid: int) -> int:
    """How many direct children a process has (uvicorn's workers)."""
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if (entry / "stat").read_text().rsplit(")", 1)[1].split()[1] == str(pid):
                    count += 1
    return count


class StatementLog:
    """Counts the SQL statements one database role sends, from PostgreSQL's own log:
    `log_statement = 'all'` (with the role in `log_line_prefix`) switched on for a window with
    ALTER SYSTEM and a reload, which reaches the sessions already open. The stack is
    throwaway, so changing its server settings is harmless."""

    def __init__(self, stack: HttpStack) -> None:
        self.stack = stack
        found = sorted(stack.directory.rglob("postgres.log"))
        self.path = found[0] if found else None

    async def _set(self, on: bool) -> None:
        conn = await asyncpg.connect(self.stack.admin_url)
        try:
            if on:
                await conn.execute("ALTER SYSTEM SET log_statement = 'all'")
                await conn.execute("ALTER SYSTEM SET log_line_prefix = '%m [%p] role=%u '")
            else:
                await conn.execute("ALTER SYSTEM RESET log_statement")
                await conn.execute("ALTER SYSTEM RESET log_line_prefix")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()

    async def count(self, role: str, send: Any, settle_s: float = 1.5) -> dict[str, Any]:
        """Switches the log on, awaits `send()` (which makes the operations), waits `settle_s`
        for what follows them (an audit relay), switches it off; returns the statements the
        role sent in that window."""
        if self.path is None:
            return {"method": "log_statement=all", "error": "no postgres.log in the stack"}
        start = self.path.stat().st_size
        await self._set(True)
        await asyncio.sleep(0.5)  # the reload reaches every backend
        await send()
        await asyncio.sleep(settle_s)
        await self._set(False)
        with self.path.open("rb") as f:
            f.seek(start)
            lines = f.read().decode(errors="replace").splitlines()
        mine = [ln for ln in lines if f"role={role} " in ln]
        statements = [ln for ln in mine if re.search(r"LOG:\s+(statement|execute [^:]*):", ln)]
        kinds: dict[str, int] = {}
        for ln in statements:
            text = re.split(r"LOG:\s+(?:statement|execute [^:]*):\s*", ln, maxsplit=1)[-1]
            word = (text.split() or ["(multi-line)"])[0].rstrip(";").upper()
            kinds[word] = kinds.get(word, 0) + 1
        return {"method": "log_statement=all", "statements": len(statements), "by_verb": kinds}
