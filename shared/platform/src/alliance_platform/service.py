"""Running a service process: logging, uvicorn on loopback by default, graceful shutdown."""

from __future__ import annotations

import sys
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from alliance_platform.logs import configure_logging
from alliance_platform.settings import CommonSettings


def serve(service: str, create_app: Callable[[], FastAPI], settings: CommonSettings) -> None:
    configure_logging(service, settings.log_level)
    try:
        app = create_app()
    except ValueError as exc:  # a setting that would leave a door open: refuse to start
        print(f"alliance {service}: refusing to start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # our JSON logging
        access_log=False,  # request lines would carry ids into logs; metrics cover traffic
        timeout_graceful_shutdown=10,
        # Bounds at the door (docs/limits.md): a WebSocket message as large as a body may be
        # (uvicorn closes the connection with 1009 beyond); the request line and headers within
        # h11's 16 KiB (431 or 400 beyond), whichever HTTP parsers happen to be installed.
        ws_max_size=settings.max_body_bytes,
        http="h11",
        h11_max_incomplete_event_size=16 * 1024,
    )
