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
    )
