"""The intake benchmark's anchor: a FastAPI hello-world POST, served exactly as intake is served.

    python -m bench.anchors.hello_post

It runs intake's own entry point (`alliance_intake/__main__.py`) with intake's app factory
swapped for `create_app` below, so the server settings (uvicorn's event loop, HTTP parser,
workers, limits, as intake's settings and `alliance_platform.service.serve` choose them) are
intake's, whatever they become. The app reads and parses the JSON body like intake does, then
answers 202 with a constant. If intake's entry point ever builds its app some other way (an
import string loaded in worker processes, say), this anchor would serve intake itself: the bench
checks the anchor's answer before it measures and stops if it is not this one.
"""

from __future__ import annotations

import runpy
from typing import Any

from fastapi import FastAPI, status

import alliance_intake.entrypoints.http as intake_http

HELLO = {"hello": "world"}


def create_app() -> FastAPI:
    app = FastAPI(title="hello-world POST")

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/v1/responses", status_code=status.HTTP_202_ACCEPTED)
    async def post(body: dict[str, Any]) -> dict[str, str]:
        return HELLO

    return app


if __name__ == "__main__":
    intake_http.create_app = create_app  # type: ignore[assignment]
    runpy.run_module("alliance_intake", run_name="__main__", alter_sys=True)
