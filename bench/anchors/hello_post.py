"""The intake benchmark's anchor: a FastAPI hello-world POST, served exactly as intake is served.

    python -m bench.anchors.hello_post

It runs uvicorn with intake's own server settings (`alliance_intake.entrypoints.server.
server_options`: the event loop, HTTP parser and head limit, workers, timeouts) and collector
settings (`settle_heap`), from intake's settings and environment, so the anchor follows whatever
intake's server becomes. The app reads and parses the JSON body like intake does, then answers
202 with a constant; the bench checks that answer before it measures.
"""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI, status

from alliance_intake.entrypoints.server import server_options
from alliance_intake.settings import IntakeSettings
from alliance_platform.service import settle_heap

HELLO = {"hello": "world"}


def create_app() -> FastAPI:
    app = FastAPI(title="hello-world POST")

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/v1/responses", status_code=status.HTTP_202_ACCEPTED)
    async def post(body: dict[str, Any]) -> dict[str, str]:
        return HELLO

    settle_heap()
    return app


if __name__ == "__main__":  # not in the worker processes, which import this module again
    uvicorn.run(
        "bench.anchors.hello_post:create_app", factory=True, **server_options(IntakeSettings())
    )
