"""What counting HTTP traffic costs per request (decision 0024): one FastAPI route called
through ASGI, in process, with and without `alliance_platform.metrics.install_metrics`, in
alternating rounds. CPU µs per request; prints, asserts nothing.

    python -m bench.metrics_overhead
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response

from alliance_platform.metrics import install_metrics
from bench.machine import machine, source_revision

REQUESTS = 5000
ROUNDS = 3


def app(counted: bool) -> FastAPI:
    built = FastAPI()

    async def accept() -> Response:
        return Response(b'{"ok":1}', status_code=202, media_type="application/json")

    built.add_api_route("/v1/responses", accept, methods=["POST"])
    for i in range(20):  # a route table of a service's size
        built.add_api_route(f"/v1/other{i}/{{x}}", accept, methods=["GET"])
    if counted:
        install_metrics(built, None)
    return built


async def cpu_per_request(asgi: FastAPI, n: int) -> float:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/responses",
        "raw_path": b"/v1/responses",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(_: Any) -> None:
        pass

    for _ in range(200):  # warm: the middleware stack is built on the first call
        await asgi(dict(scope), receive, send)
    started = time.process_time()
    for _ in range(n):
        await asgi(dict(scope), receive, send)
    return (time.process_time() - started) / n * 1e6


async def main() -> None:
    print(f"# {machine()}, {source_revision()['commit']}")
    bare, counted = app(False), app(True)
    for _ in range(ROUNDS):
        without = await cpu_per_request(bare, REQUESTS)
        with_metrics = await cpu_per_request(counted, REQUESTS)
        print(
            f"CPU µs/request: bare {without:.1f}, counted {with_metrics:.1f}, "
            f"+{with_metrics - without:.1f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
