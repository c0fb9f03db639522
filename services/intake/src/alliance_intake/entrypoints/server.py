"""How intake's HTTP server runs: uvicorn on uvloop and httptools, `ALLIANCE_INTAKE_WORKERS`
worker processes (decision 0019). `server_options` is the one place these settings live: the
service and the bench's hello-world anchor both read it.

Each worker is a process of its own with its own pool, outbox relay, intake-commands consumer
(one group: Kafka shares the partitions out) and rate limiter (limits are per process). The
relays take turns: one publishes an outbox at a time (`alliance_platform.outbox_relay`)."""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

import uvicorn
from fastapi import FastAPI

from alliance_intake.entrypoints.http import create_app
from alliance_intake.settings import IntakeSettings
from alliance_platform import tracing
from alliance_platform.logs import configure_logging
from alliance_platform.service import exit_zero_after_a_clean_stop, settle_heap
from alliance_platform.service import server_options as common_server_options

APP = "alliance_intake.entrypoints.server:worker_app"


def server_options(settings: IntakeSettings) -> dict[str, Any]:
    """uvicorn's settings for intake (`uvicorn.run(app, **server_options(settings))`): every
    service's, with its worker processes."""
    return {
        **common_server_options(settings),
        "workers": settings.workers,
        # A worker imports the whole service before it can answer the supervisor's ping; on a
        # busy machine that takes longer than uvicorn's 5 s, and it would be killed in a loop.
        "timeout_worker_healthcheck": 60,
    }


def share_metrics_between_workers() -> None:
    """Each worker counts into files of one directory, so `/metrics`, whichever worker answers
    it, gives the sum (prometheus_client's multiprocess mode; the workers read the variable
    when they import it). A directory of this start: counts of an earlier run must not add."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="alliance-intake-metrics-")


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn starts workers afresh: they configure their own
    logging)."""
    settings = IntakeSettings()
    configure_logging("intake", settings.log_level)
    tracing.configure("intake")
    app = create_app(settings)
    settle_heap()
    return app


def run(settings: IntakeSettings) -> None:
    configure_logging("intake", settings.log_level)
    if settings.workers > 1:
        share_metrics_between_workers()
    try:  # a setting that would leave a door open: refuse to start, before any worker does
        tracing.span_exporters()  # the OTEL_* settings too (each worker configures its own)
        create_app(settings)
    except ValueError as exc:
        print(f"alliance intake: refusing to start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    exit_zero_after_a_clean_stop()
    uvicorn.run(APP, factory=True, **server_options(settings))
