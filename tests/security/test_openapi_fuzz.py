"""Schemathesis against intake's and alerts' OpenAPI documents, as the services run: every
check, bounded examples, a valid token. Zero failures: no server error, every status code,
header and body as documented (the one configured check: tests/security/schemathesis.toml)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from alliance_alerts.entrypoints.app import create_app as create_alerts
from alliance_alerts.settings import AlertsSettings
from alliance_contracts.access import Role, Scope
from alliance_devstack.processes import free_port
from alliance_intake.entrypoints.http import create_app as create_intake
from alliance_intake.settings import IntakeSettings
from tests.helpers import AUTH_ENV, ISSUER
from tests.integration.test_webhooks import WEBHOOK_KEYS
from tests.security.schemathesis_hooks import CLINIC
from tests.stack import Endpoints

CONFIG = Path(__file__).with_name("schemathesis.toml")
REPO = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = "25"


@contextlib.contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """The app on a loopback port, in a thread with its own event loop."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def fuzz(url: str, token: str, workdir: Path) -> None:
    """`workdir`: where schemathesis keeps its cache (one per run: no case replayed from an
    earlier one)."""
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file", str(CONFIG),
            "run", f"{url}/openapi.json",
            "--header", f"Authorization: Bearer {token}",
            "--checks", "all",
            "--max-examples", MAX_EXAMPLES,
            "--seed", "20261128",
            "--no-color",
        ],
        capture_output=True, text=True, timeout=600, check=False, cwd=workdir,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "SCHEMATHESIS_HOOKS": "tests.security.schemathesis_hooks",
        },
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    # Every generated case passed every check (warnings, e.g. that responses are mostly
    # refused for breaking an instrument's item rules, are reported but are not failures).
    counts = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert counts, result.stdout[-3000:]
    assert counts[1] == counts[2], result.stdout[-3000:]


def test_intake_openapi(stack: Endpoints, tmp_path: Path) -> None:
    app = create_intake(IntakeSettings.model_validate({**stack.service_env("intake"), **AUTH_ENV}))
    token = ISSUER.clinic_system("ehr-fuzz", [Scope.RESPONSES_WRITE, Scope.CLINIC_ADMIN], [CLINIC])
    with running(app) as url:
        fuzz(url, token, tmp_path)


def test_alerts_openapi(stack: Endpoints, tmp_path: Path) -> None:
    env = {**stack.service_env("alerts"), **AUTH_ENV, "ALLIANCE_WEBHOOK_KEYS": WEBHOOK_KEYS}
    app = create_alerts(AlertsSettings.model_validate(env))
    with running(app) as url:
        fuzz(url, ISSUER.person("admin-fuzz", Role.CLINIC_ADMIN, [CLINIC]), tmp_path)
