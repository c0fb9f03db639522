"""Prometheus metrics (decision 0024): what every service counts, and its `/metrics` door.

The metrics every service shares are defined here; a service's own (alerts' lifecycle and
webhooks, the gateway's operations) beside its entrypoints, with the same `alliance_` prefix.
Labels stay low in cardinality: topics, outcomes, kinds, operation names from a bounded set;
never a case, response or alert id.

What is cheap to count is counted where it happens (events consumed, batches, dead letters).
What is a state (consumer lag, parked records, outbox backlog) is read when Prometheus scrapes:
each source registers an async `Refresh`, and `/metrics` runs them first (at most every
`REFRESH_EVERY_S`), so an idle service costs nothing between scrapes.

`/metrics` answers only a bearer token equal to the one in `ALLIANCE_METRICS_TOKEN_FILE`;
without that setting it answers 404 (fail closed: the numbers name clinics and topics).
With several worker processes (intake), `PROMETHEUS_MULTIPROC_DIR` makes the workers' numbers
one answer (`serve_multiprocess`)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

Refresh = Callable[[], Awaitable[None]]
# A scrape more often than this reuses the states read last time.
REFRESH_EVERY_S = 5.0
# A state source that does not answer in time is left out of that scrape (and logged).
REFRESH_TIMEOUT_S = 4.0
METRICS_PATH = "/metrics"
# Probes and the scrape itself are not traffic.
UNCOUNTED_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
KNOWN_PATHS = 1024  # distinct request paths whose route template is remembered

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests by route template (none: no route), method and status class, refusals "
    "(401, 413, 429) included; probes and scrapes are not counted.",
    ["handler", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time from the request to the end of its answer, by route template and method.",
    ["handler", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Consumers (alliance_platform.consumer): every record taken from Kafka ends in one outcome.
CONSUMED = Counter(
    "alliance_consumer_records",
    "Records consumers took from Kafka, by outcome: processed (folded, parked or "
    "dead-lettered: alliance_dead_letters_total), skipped (below the stored position: "
    "consumed before a rewind or redelivery).",
    ["topic", "outcome"],
)
BATCH_RECORDS = Histogram(
    "alliance_consumer_batch_records",
    "Records per consumed batch.",
    ["topic"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
)
BATCH_SECONDS = Histogram(
    "alliance_consumer_batch_seconds",
    "Time to process one consumed batch, its transaction included.",
    ["topic"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BATCH_FAILURES = Counter(
    "alliance_consumer_batch_failures",
    "Batches rewound after a passing failure (PostgreSQL or Kafka unavailable).",
    ["topic"],
)
DEAD_LETTERED = Counter(
    "alliance_dead_letters",
    "Records sent to the dead-letter topic, by the topic they came from.",
    ["topic"],
)
# States, read at scrape time. `mostrecent`: with worker processes, the last one to read wins.
LAG = Gauge(
    "alliance_consumer_lag_records",
    "Records on Kafka past a consumer group's position, per partition: the position stored "
    "with the projection for a tracked consumer, the committed offset otherwise.",
    ["group", "topic", "partition"],
    multiprocess_mode="mostrecent",
)
PARKED = Gauge(
    "alliance_consumer_parked_records",
    "Records a tracked consumer holds parked, waiting for something (by projection slot).",
    ["schema"],
    multiprocess_mode="mostrecent",
)
OUTBOX_BACKLOG = Gauge(
    "alliance_outbox_backlog_rows",
    "Rows in an outbox waiting to be published.",
    ["outbox"],
    multiprocess_mode="mostrecent",
)
OUTBOX_OLDEST_AGE = Gauge(
    "alliance_outbox_oldest_age_seconds",
    "Age of the oldest row waiting in an outbox (0 when it is empty).",
    ["outbox"],
    multiprocess_mode="mostrecent",
)
OUTBOX_PARKED = Gauge(
    "alliance_outbox_parked_rows",
    "Outbox rows Kafka refused for what they are (outbox_parked), waiting for an operator.",
    ["outbox"],
    multiprocess_mode="mostrecent",
)
OUTBOX_PUBLISHED = Counter(
    "alliance_outbox_published_rows",
    "Outbox rows published to Kafka.",
    ["outbox"],
)
REFRESH_FAILURES = Counter(
    "alliance_metrics_refresh_failures",
    "Scrapes that could not read a state source (it was left out of that scrape).",
    ["source"],
)


class Scrape:
    """The process's state sources, read (at most every REFRESH_EVERY_S) before an answer."""

    def __init__(self) -> None:
        self._sources: dict[str, Refresh] = {}
        self._read_at = -float("inf")
        self._lock = asyncio.Lock()

    def add(self, name: str, refresh: Refresh) -> None:
        self._sources[name] = refresh

    async def refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._read_at < REFRESH_EVERY_S:
                return
            await asyncio.gather(*(self._read(n, r) for n, r in self._sources.items()))
            self._read_at = time.monotonic()

    @staticmethod
    async def _read(name: str, refresh: Refresh) -> None:
        try:
            async with asyncio.timeout(REFRESH_TIMEOUT_S):
                await refresh()
        except Exception as exc:
            REFRESH_FAILURES.labels(name).inc()
            log.warning(
                "metrics source unavailable", extra={"source": name, "error": type(exc).__name__}
            )


def scrape_token(path: str | None) -> str | None:
    """The token Prometheus presents, from its file (a mounted secret); None: no scraping."""
    if not path:
        return None
    token = Path(path).read_text().strip()
    if len(token) < 16:
        raise ValueError(f"ALLIANCE_METRICS_TOKEN_FILE: {path} must hold a token of 16+ chars")
    return token


def exposition() -> bytes:
    """This process's metrics, or all worker processes' when they share a directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


class HttpMetrics:
    """ASGI middleware counting requests by route template, method and status class.
    (prometheus-fastapi-instrumentator does the same for 60-90 µs per request, a Request, a
    Response and an `asyncio.gather` each time; this costs a few µs: decision 0024.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: dict[str, str] = {}
        # The labelled children, looked up once per label set (`labels()` takes a lock).
        self._counted: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNCOUNTED_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app raises

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            key = (self._template(scope), method, status // 100)
            counted = self._counted.get(key)
            if counted is None:
                handler = key[0]
                counted = self._counted[key] = (
                    HTTP_REQUESTS.labels(handler, method, f"{status // 100}xx"),
                    HTTP_SECONDS.labels(handler, method),
                )
            counted[0].inc()
            counted[1].observe(time.perf_counter() - started)

    def _template(self, scope: Scope) -> str:
        """The route's path template: FastAPI leaves its route in the scope; a request answered
        before routing (a refusal at the door, intake's fast path) is matched here, once per
        distinct path. A label per URL would be unbounded: no route gives `none`."""
        route = scope.get("route")
        if isinstance(route, BaseRoute) and hasattr(route, "path"):
            return str(route.path)
        path: str = scope["path"]
        template = self._templates.get(path)
        if template is None:
            template = next(
                (
                    str(getattr(r, "path", "none"))
                    for r in getattr(scope.get("app"), "routes", ())
                    if r.matches(scope)[0] is not Match.NONE
                ),
                "none",
            )
            if len(self._templates) >= KNOWN_PATHS:
                self._templates.clear()
            self._templates[path] = template
        return template


def install_metrics(app: FastAPI, token_file: str | None) -> Scrape:
    """Counts the app's HTTP traffic (HttpMetrics) and serves `/metrics` to the holder of the
    scrape token. Add after the app's other middleware: its refusals (401, 413, 429) are
    traffic too. Returns where state sources register."""
    token = scrape_token(token_file)
    scrape = Scrape()
    app.add_middleware(HttpMetrics)
    expected = f"Bearer {token}".encode() if token else None

    @app.get(METRICS_PATH, include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if expected is None:
            return Response(status_code=404)
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return Response(status_code=401, headers={"www-authenticate": 'Bearer realm="metrics"'})
        await scrape.refresh()
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

    return scrape
