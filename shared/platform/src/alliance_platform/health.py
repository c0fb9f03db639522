"""`/healthz` (the process answers) and `/readyz` (its dependencies answer) for every service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse

Check = Callable[[], Awaitable[bool]]


def health_router(
    required: Mapping[str, Check], optional: Mapping[str, Check] | None = None
) -> APIRouter:
    """`required` checks decide readiness; `optional` ones are reported as degraded only."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        results = {name: await check() for name, check in required.items()}
        extra = {name: await check() for name, check in (optional or {}).items()}
        ready = all(results.values())
        body = {
            "status": "ready" if ready else "not ready",
            "checks": {k: "up" if v else "down" for k, v in {**results, **extra}.items()},
            "degraded": not all(extra.values()),
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    return router
