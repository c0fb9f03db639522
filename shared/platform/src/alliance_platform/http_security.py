"""The doors of the HTTP services: bearer authentication before anything is read, per-client
rate limits, and JSON answers for every refusal (401, 403, 429, 503) that name the rule (on the
FHIR paths, rendered as OperationOutcomes by `fhir_refusals`).
Body sizes are capped by FastAPI's `max_body_size` (413) before anything is parsed.

Authentication is ASGI middleware rather than a FastAPI dependency so that it runs first: a
request without a valid token is refused before its body is read or validated.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import asyncpg
from fastapi import FastAPI, HTTPException, Request, Security
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from alliance_contracts.access import Principal, write_refusal
from alliance_contracts.access import Scope as WriteScope
from alliance_platform.pages import DOCS_PATHS
from alliance_platform.tokens import InvalidToken, TokenServiceUnavailable
from alliance_platform.tracing import instrument_http

log = logging.getLogger(__name__)

P = TypeVar("P", bound=Principal)
Authenticate = Callable[[str | None], Awaitable[P]]
# Paths that answer without a bearer JWT: health probes, the API's own documentation (the page
# and its assets: alliance_platform.pages), and the metrics (which check their own scrape token:
# alliance_platform.metrics).
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/metrics", *DOCS_PATHS})
RETRY_AFTER_SECONDS = 5
# The answers every authenticated endpoint may give, for the OpenAPI documents.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body could not be read (not UTF-8, not JSON)."},
    401: {"description": "No bearer token, or an invalid one (`WWW-Authenticate: Bearer`)."},
    403: {"description": "The token does not cover this clinic, or lacks the scope (named)."},
    413: {"description": "The body is larger than the configured maximum."},
    422: {"description": "Invalid input; `detail[].loc` names each field, `msg` the rule."},
    429: {"description": "Too many requests from this client; see `Retry-After`."},
    503: {"description": "A dependency (database, token keys) is down; see `Retry-After`."},
}


def error_body(loc: list[str], msg: str, kind: str) -> dict[str, Any]:
    """The shape of every error: FastAPI's `detail` list, one entry per field and rule."""
    return {"detail": [{"loc": loc, "msg": msg, "type": kind}]}


async def _answer(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    raw = json.dumps(body).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    head += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": raw})


def unauthenticated(reason: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    return (
        401,
        error_body(["header", "authorization"], reason, "unauthenticated"),
        {"www-authenticate": 'Bearer error="invalid_token"'},
    )


@dataclass
class RateLimiter:
    """A token bucket per client: `rate` requests per second on average, `burst` at once.
    In memory, per process (documented: a deployment with N replicas allows N times that)."""

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def retry_after(self, client: str) -> float:
        """0 when the request may go ahead (and it is counted), else seconds to wait."""
        now = self.clock()
        tokens, then = self._buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            return 0.0
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > 100_000:  # forget idle clients rather than grow without bound
            self._buckets = {client: (tokens, now)}
        return (1 - tokens) / self.rate


class Refused(Exception):
    """An answer instead of the request: status, JSON body, headers."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers


async def admit(
    authenticate: Authenticate[P], authorization: str | None, limiter: RateLimiter | None
) -> P:
    """The caller, authenticated and within its rate; or Refused (401, 503 or 429)."""
    try:
        principal = await authenticate(authorization)
    except InvalidToken as exc:
        raise Refused(*unauthenticated(f"invalid or missing bearer token: {exc}")) from exc
    except TokenServiceUnavailable as exc:
        raise Refused(*unavailable("token keys (JWKS)")) from exc
    if limiter and (wait := limiter.retry_after(principal.subject)):
        body = error_body(["header", "authorization"], "too many requests", "rate_limit")
        raise Refused(429, body, {"retry-after": str(math.ceil(wait))})
    return principal


class SecureDoor:
    """ASGI middleware: outside PUBLIC_PATHS, authentication and the rate limit. The principal
    lands in `request.state.principal`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticate: Authenticate[Principal],
        limiter: RateLimiter | None = None,
        public_paths: Iterable[str] = PUBLIC_PATHS,
    ) -> None:
        self.app = app
        self.authenticate = authenticate
        self.limiter = limiter
        self.public_paths = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        authorization = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None
        )
        try:
            principal = await admit(self.authenticate, authorization, self.limiter)
        except Refused as refused:
            await _answer(send, refused.status, refused.body, refused.headers)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def unavailable(what: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    body = error_body([], f"{what} unavailable, retry later", "unavailable")
    return 503, body, {"retry-after": str(RETRY_AFTER_SECONDS)}


# Errors that mean the database (or the network to it) is down: 503 with `Retry-After`.
DEPENDENCY_DOWN: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    TimeoutError,
)


def dependency_down(exc: Exception) -> JSONResponse:
    """The answer to one of DEPENDENCY_DOWN (an exception handler's, or a handler's own)."""
    log.warning("dependency unavailable", extra={"error": type(exc).__name__})
    status, body, headers = unavailable("the database")
    return JSONResponse(body, status, headers=headers)


# Only declares the scheme in the OpenAPI document; SecureDoor has already checked the token.
_bearer_scheme = HTTPBearer(
    auto_error=False, description="A JWT from the network's identity provider."
)


async def principal(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer_scheme)],
) -> Principal:
    """The authenticated caller (FastAPI dependency; async, or FastAPI would run it in a
    thread for every request)."""
    found = getattr(request.state, "principal", None)
    if found is None:  # a route outside the middleware's reach: fail closed
        raise HTTPException(401, "invalid or missing bearer token", {"WWW-Authenticate": "Bearer"})
    return found  # type: ignore[no-any-return]


def require_write(
    principal: Principal, clinic_id: str, scope: WriteScope, where: str = "path"
) -> None:
    """403, naming the clinic or the scope, unless `principal` may write `scope` for the clinic.
    `where`: where the request names the clinic (`path` or `body`)."""
    if refusal := write_refusal(principal, clinic_id, scope):
        raise HTTPException(403, error_body([where, "clinic_id"], refusal, "forbidden")["detail"])


def install(
    app: FastAPI, *, authenticate: Authenticate[Principal], limiter: RateLimiter | None
) -> None:
    """The door and the error answers every HTTP service shares."""
    app.add_middleware(
        SecureDoor,
        authenticate=authenticate,
        limiter=limiter,
    )
    instrument_http(app)  # outside the door: refused requests are traced too

    async def answer_dependency_down(_: Request, exc: Exception) -> JSONResponse:
        return dependency_down(exc)

    for kind in DEPENDENCY_DOWN:
        app.add_exception_handler(kind, answer_dependency_down)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:  # Allow: every method of the path, not one route's
            methods = {
                method
                for route in app.routes
                if isinstance(route, APIRoute) and route.path_regex.match(request.url.path)
                for method in route.methods or ()
            }
            headers = {**(exc.headers or {}), "Allow": ", ".join(sorted(methods))}
            exc = StarletteHTTPException(405, exc.detail, headers)
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # The rule and the field, never the submitted value (it could be a clinical note).
        detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse({"detail": detail}, 422)
