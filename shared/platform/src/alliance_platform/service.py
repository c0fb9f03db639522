"""Running a service process: logging, uvicorn on uvloop and httptools, loopback by default, a
bounded request head, graceful shutdown, and a garbage collector tuned for a long-lived server
(decision 0020)."""

from __future__ import annotations

import gc
import signal
import sys
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from alliance_platform import tracing
from alliance_platform.logs import configure_logging
from alliance_platform.settings import CommonSettings

# Bound at the door (docs/limits.md): the request line and headers.
MAX_HEAD_BYTES = 16 * 1024
# The collector's thresholds (CPython's default is 700, 10, 10): allocations between two
# collections of the youngest generation, then young collections per middle one and middle per
# old. A request allocates thousands of objects that refer to each other (closures, execution
# contexts); collected every 700 allocations, most were promoted, and the older generations'
# collections scanned the whole heap: a third of the gateway's CPU under load (decision 0020).
GC_THRESHOLDS = (50_000, 50, 100)


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


def server_options(settings: CommonSettings) -> dict[str, Any]:
    """uvicorn's settings for every service (`uvicorn.run(app, **server_options(settings))`);
    intake adds its workers."""
    return {
        "host": settings.http_host,
        "port": settings.http_port,
        "loop": "uvloop",
        "http": BoundedHeadProtocol,
        # A WebSocket message as large as a body may be (uvicorn closes with 1009 beyond).
        "ws_max_size": settings.max_body_bytes,
        "log_config": None,  # our JSON logging
        "access_log": False,  # request lines would carry ids into logs; metrics cover traffic
        "timeout_graceful_shutdown": 10,
    }


def settle_heap() -> None:
    """Once the app is built: what startup made (modules, the schema, settings) is moved out of
    the collector's sight (`gc.freeze`), and the youngest generation is collected less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def exit_zero_after_a_clean_stop() -> None:
    """uvicorn shuts down gracefully on SIGTERM or SIGINT, then raises the signal again once
    its own handler is gone: under the default handler the process would die of it (-15)
    after a clean stop. Under this one (a no-op) it ends with 0, as orchestrators expect."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)


def serve(service: str, create_app: Callable[[], FastAPI], settings: CommonSettings) -> None:
    configure_logging(service, settings.log_level)
    try:
        tracing.configure(service)  # off unless the OTEL_* variables ask for it
        app = create_app()
    except ValueError as exc:  # a setting that would leave a door open: refuse to start
        print(f"alliance {service}: refusing to start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    settle_heap()
    exit_zero_after_a_clean_stop()
    uvicorn.run(app, **server_options(settings))
