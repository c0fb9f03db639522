"""How intake's HTTP server runs: uvicorn on uvloop and httptools, `ALLIANCE_INTAKE_WORKERS`
worker processes (decision 0019). `server_options` is the one place these settings live: the
service and the bench's hello-world anchor both read it.

Each worker is a process of its own with its own pool, outbox relay, intake-commands consumer
(one group: Kafka shares the partitions out) and rate limiter (limits are per process). The
relays take turns: one publishes an outbox at a time (`alliance_platform.outbox_relay`)."""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from alliance_intake.entrypoints.http import create_app
from alliance_intake.settings import IntakeSettings
from alliance_platform.logs import configure_logging

APP = "alliance_intake.entrypoints.server:worker_app"
# Bound at the door (docs/limits.md): the request line and headers, as h11's limit elsewhere.
MAX_HEAD_BYTES = 16 * 1024


class BoundedHeadProtocol(HttpToolsProtocol):
    """httptools, which buffers a request head without limit, refused (431, then the
    connection closes) once the head it has read passes MAX_HEAD_BYTES."""

    _head_bytes: int | None = None  # bytes of an unfinished head; None between heads

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_bytes is None or self.transport.is_closing():
            return
        self._head_bytes += len(data)  # all of it went into the head: it is still unfinished
        if self._head_bytes > MAX_HEAD_BYTES:
            self._head_bytes = None
            self.transport.write(
                STATUS_LINE[431] + b"content-length: 0\r\nconnection: close\r\n\r\n"
            )
            self.transport.close()


def server_options(settings: IntakeSettings) -> dict[str, Any]:
    """uvicorn's settings for intake (`uvicorn.run(app, **server_options(settings))`)."""
    return {
        "host": settings.http_host,
        "port": settings.http_port,
        "loop": "uvloop",
        "http": BoundedHeadProtocol,
        "workers": settings.workers,
        "log_config": None,  # our JSON logging
        "access_log": False,  # request lines would carry ids into logs
        "timeout_graceful_shutdown": 10,
        # A worker imports the whole service before it can answer the supervisor's ping; on a
        # busy machine that takes longer than uvicorn's 5 s, and it would be killed in a loop.
        "timeout_worker_healthcheck": 60,
    }


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn starts workers afresh: they configure their own
    logging)."""
    settings = IntakeSettings()
    configure_logging("intake", settings.log_level)
    return create_app(settings)


def run(settings: IntakeSettings) -> None:
    configure_logging("intake", settings.log_level)
    try:  # a setting that would leave a door open: refuse to start, before any worker does
        create_app(settings)
    except ValueError as exc:
        print(f"alliance intake: refusing to start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    uvicorn.run(APP, factory=True, **server_options(settings))
