"""Running a service process: logging, uvicorn on loopback by default, graceful shutdown."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from alliance_shared.logs import configure_logging
from alliance_shared.settings import CommonSettings


def serve(service: str, create_app: Callable[[], FastAPI], settings: CommonSettings) -> None:
    configure_logging(service, settings.log_level)
    uvicorn.run(
        create_app(),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # our JSON logging
        access_log=False,  # request lines would carry ids into logs; metrics cover traffic
        timeout_graceful_shutdown=10,
    )
