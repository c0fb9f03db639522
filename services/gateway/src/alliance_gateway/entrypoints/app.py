"""Gateway process: FastAPI with the GraphQL router (GraphiQL at /graphql, self-hosted),
bearer-token authentication, CORS, the clinician console (/console), its own audit/command store
with an outbox relay, and health."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import pydantic_core
from fastapi import FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.http.exceptions import WebSocketDisconnected

from alliance_gateway.adapters.notices import NoticeHub
from alliance_gateway.adapters.tables import SCHEMA
from alliance_gateway.entrypoints.console import ConsolePages, console_router
from alliance_gateway.entrypoints.context import Context
from alliance_gateway.entrypoints.fhir import fhir_router
from alliance_gateway.graphql.schema import build_schema
from alliance_gateway.graphql.trusted import PersistedOverWebSocket
from alliance_gateway.migrations import ENVIRONMENT as MIGRATIONS
from alliance_gateway.settings import GatewaySettings
from alliance_platform.db import create_engine, create_pool
from alliance_platform.fhir_refusals import answer_fhir_refusals
from alliance_platform.health import health_router
from alliance_platform.http_security import Refused, admit
from alliance_platform.kafka import kafka_reachable
from alliance_platform.metrics import install_metrics
from alliance_platform.migrate import require_at_head
from alliance_platform.outbox_relay import OutboxRelay
from alliance_platform.pages import install_api_docs
from alliance_platform.runtime import Runtime
from alliance_platform.tokens import InvalidToken, TokenServiceUnavailable, TokenVerifier
from alliance_platform.tracing import instrument_http

TOKEN_EXPIRED = 4401  # WebSocket close code: the token expired; reconnect with a fresh one


def close_when_expired(websocket: object, expires_at: int | None) -> None:
    """Closes the WebSocket (4401) when its token expires: a connection never outlives it."""
    if not isinstance(websocket, WebSocket) or expires_at is None:
        return

    async def close() -> None:
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        if websocket.client_state is WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError):
                await websocket.close(code=TOKEN_EXPIRED, reason="token expired")

    task = asyncio.get_running_loop().create_task(close())
    _expiry_tasks.add(task)
    task.add_done_callback(_expiry_tasks.discard)


_expiry_tasks: set[asyncio.Task[None]] = set()


class TextFrames(ASGIWebSocketAdapter):
    """graphql-transport-ws messages go as text frames: strawberry sends the bytes our
    `encode_json` makes as binary frames, which browsers' clients (graphql-ws) cannot read."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(pydantic_core.to_json(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


def _is_ide_page(connection: HTTPConnection) -> bool:
    return (
        connection.scope.get("method") == "GET"
        and "text/html" in connection.headers.get("accept", "")
        and "query" not in connection.query_params
    )


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    verifier = TokenVerifier(settings.tokens())
    # Reads go through snapshots: READ ONLY, or (an authenticated caller's, whose reads are
    # audited in the same transaction) read-write, where the role's grants allow writing only
    # the gateway's own schema (adapters/snapshot.py). No ping per checkout: three round trips
    # per operation; a connection the server dropped fails one operation (decision 0020).
    engine = create_engine(settings.database_url, settings.db_pool_size, pre_ping=False)
    sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    runtime = Runtime()
    hub = NoticeHub(settings.kafka_bootstrap_servers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await require_at_head(settings.database_url, MIGRATIONS)  # no DDL here: migrations
        # The audit fallback, commands and the relay leave nothing in the session (`_xact_`
        # locks only): no reset round trip on release.
        runtime.pool = await create_pool(settings.database_url, 4, session_state=False)
        runtime.relay = OutboxRelay(
            runtime.pool,
            SCHEMA,
            settings.kafka_bootstrap_servers,
            "gateway-relay",
            max_message_bytes=settings.kafka_message_max_bytes,
        )
        runtime.relay.start()
        hub.start()
        try:
            yield
        finally:
            await hub.stop()
            await runtime.relay.stop()
            await runtime.pool.close()
            await engine.dispose()

    app = FastAPI(
        title="Alliance gateway",
        version="1",
        description="GraphQL API over the alliance read models. GraphiQL at /graphql. "
        "Authenticate with `Authorization: Bearer <JWT>`.",
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
        docs_url=None,  # Swagger UI from the service's own files: install_api_docs
        redoc_url=None,
    )
    install_api_docs(app)
    app.state.runtime = runtime
    limiter = settings.limiter()
    app.state.engine = engine  # tests count the statements a query runs

    async def context(connection: HTTPConnection) -> Context:
        pool, relay = runtime.require()
        if isinstance(connection, WebSocket) or _is_ide_page(connection):
            # WebSockets authenticate in connection_init (see Router.on_ws_connect); the
            # GraphiQL page itself runs no operation (its requests carry the token).
            return Context(sessions, None, pool, relay, hub)
        try:
            caller = await admit(verifier.person, connection.headers.get("authorization"), limiter)
        except Refused as refused:
            raise HTTPException(refused.status, refused.body["detail"], refused.headers) from None
        return Context(sessions, caller, pool, relay, hub)

    pages = ConsolePages(settings)

    class Router(GraphQLRouter[Context, None]):
        graphql_transport_ws_handler_class = PersistedOverWebSocket
        websocket_adapter_class = TextFrames

        async def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
            # Self-hosted GraphiQL (the console's build), never strawberry's CDN page.
            return pages.page("graphiql.html", "GraphiQL page")

        def encode_json(self, data: object) -> bytes:
            return pydantic_core.to_json(data)  # the stdlib's json costs three times as much

        async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
            params = (
                context.connection_params if isinstance(context.connection_params, dict) else {}
            )
            token = params.get("authorization") or params.get("Authorization")
            try:
                caller = await verifier.person(token if isinstance(token, str) else None)
            except InvalidToken as exc:
                raise ConnectionRejectionError(
                    {"reason": "invalid or missing bearer token"}
                ) from exc
            except TokenServiceUnavailable as exc:
                raise ConnectionRejectionError({"reason": "token keys unavailable"}) from exc
            context.caller = caller
            close_when_expired(context.request, caller.expires_at)
            return None

    router = Router(
        build_schema(settings.max_query_cost, settings.trusted_documents_only),
        context_getter=context,
        allowed_origins=settings.origins(),
    )
    app.include_router(router, prefix="/graphql")
    app.include_router(fhir_router(context))  # the same door, scoping and read audit
    app.include_router(console_router(pages))
    answer_fhir_refusals(app)  # what the FHIR routes do not answer: an OperationOutcome
    if settings.origins():
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.origins(),
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type"],
        )
    instrument_http(app)  # outermost: every request's span, when tracing is on

    async def db_up() -> bool:
        try:
            async with sessions() as session:
                return (await session.execute(text("SELECT 1"))).scalar() == 1
        except Exception:
            return False

    async def kafka_up() -> bool:
        return await kafka_reachable(settings.kafka_bootstrap_servers)

    app.include_router(health_router({"postgres": db_up, "kafka": kafka_up}))
    scrape = install_metrics(app, settings.metrics_token_file)

    async def outbox() -> None:
        await runtime.require()[1].report()

    scrape.add("outbox", outbox)
    return app
