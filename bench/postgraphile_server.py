"""The gateway benchmark's anchor: PostGraphile v4 (npm, pinned by bench/postgraphile/
package-lock.json) over the same read-model views, as a process of its own on loopback."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alliance_devstack.processes import LOOPBACK, free_port, log_tail
from bench.http_stack import say

HOME = Path(__file__).resolve().parent / "postgraphile"
CLI = HOME / "node_modules" / "postgraphile" / "cli.js"
STAMP = HOME / "node_modules" / ".package-lock.json"


def ensure_installed() -> str:
    """`npm ci` in bench/postgraphile when its node_modules is missing or older than the lock;
    returns the installed PostGraphile version."""
    lock = HOME / "package-lock.json"
    if not CLI.exists() or not STAMP.exists() or STAMP.stat().st_mtime < lock.stat().st_mtime:
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is missing: the gateway bench needs Node.js 18+ and npm")
        say("installing PostGraphile (npm ci in bench/postgraphile)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HOME, check=True, timeout=600)
    return str(json.loads((HOME / "node_modules/postgraphile/package.json").read_text())["version"])


@dataclass(frozen=True)
class PostGraphile:
    url: str  # the GraphQL endpoint
    pid: int


def _answers(url: str) -> bool:
    body = json.dumps({"query": "{__typename}"}).encode()
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def running(database_url: str, log: Path, timeout: float = 90) -> Iterator[PostGraphile]:
    """PostGraphile over the `scoring` and `alerts` views, as `database_url`'s role (with its
    privileges only: --no-ignore-rbac), smart tags from bench/postgraphile/postgraphile.tags.json5,
    no mutations, no query log, JSON as JSON; stopped by its PID at the end."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is missing: the gateway bench needs Node.js 18+")
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                node,
                str(CLI),
                "--connection",
                database_url,
                "--schema",
                "scoring,alerts",
                "--host",
                LOOPBACK,
                "--port",
                str(port),
                "--disable-default-mutations",
                "--disable-query-log",
                "--no-ignore-rbac",
                "--dynamic-json",
                "--no-setof-functions-contain-nulls",
            ],
            cwd=HOME,  # where it reads postgraphile.tags.json5
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{LOOPBACK}:{port}/graphql"
    try:
        deadline = time.monotonic() + timeout
        while not _answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostGraphile did not start; {log}:\n{log_tail(log)}")
            time.sleep(0.3)
        yield PostGraphile(url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def query(name: str) -> str:
    """bench/postgraphile/<name>.graphql"""
    return (HOME / f"{name}.graphql").read_text()


def post(url: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(req, timeout=30) as r:
        answer: dict[str, Any] = json.loads(r.read())
    if answer.get("errors"):
        raise RuntimeError(f"{url} answered errors: {answer['errors']}")
    return answer
