"""OpenTelemetry traces across every hop (decision 0025): the HTTP request, the PostgreSQL
transaction, the outbox row, the relay's publish, the Kafka message (W3C `traceparent` header),
the consumer batch and each message in it, the webhook, the GraphQL operation.

Off unless the standard `OTEL_*` variables ask for an exporter (`tracing_wanted`); then
`configure` builds the SDK's provider from them. Off, every hop costs one check of a module
global (`_tracer is None`): no span, no context, no allocation.

The trace crosses the outbox in the row's stored headers: a row enqueued while a span is active
keeps that span's `traceparent`, the relay publishes it as the record's header, and the consumer
continues it. A consumer batch holds records of many traces: its span is a root of its own with
a link to each record's context, and each record gets a span that continues its trace (linked
back to the batch). What a batch derives for a case (clinic, case) continues the trace of that
case's record in the batch (the last one, when a batch holds several).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind, Tracer
from opentelemetry.trace.status import Status, StatusCode

if TYPE_CHECKING:  # the SDK is imported only when tracing is on (`configure`) or given
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

TRACEPARENT = "traceparent"
_TRACEPARENT_BYTES = TRACEPARENT.encode()

_tracer: Tracer | None = None
_provider: TracerProvider | None = None
# Within a consumer batch: each case's record span, which what is derived for it continues.
_batch_spans: ContextVar[Mapping[tuple[str, str], SpanContext] | None] = ContextVar(
    "alliance_batch_spans", default=None
)
_NOTHING = contextlib.nullcontext()  # reusable: what every hop gets while tracing is off


def tracing_wanted(env: Mapping[str, str] = os.environ) -> bool:
    """On when `OTEL_TRACES_EXPORTER` names an exporter (not `none`), or, without it, when an
    OTLP endpoint is given; `OTEL_SDK_DISABLED=true` turns it off whatever else is set."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def _exporter(name: str, env: Mapping[str, str]) -> SpanExporter:
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    if name == "otlp":
        protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get(
            "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
        )
        if protocol != "http/protobuf":  # fail closed: no exporter silently dropping spans
            raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: only http/protobuf")
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # endpoint, headers, timeout, compression: OTEL_EXPORTER_OTLP_*
    if name == "console":
        return ConsoleSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER={name}: use otlp, console or none")


def span_exporters(env: Mapping[str, str] = os.environ) -> list[SpanExporter]:
    """The exporters `OTEL_TRACES_EXPORTER` names (`otlp` when only an endpoint is given); none
    while tracing is off. Raises ValueError on one it cannot honour."""
    if not tracing_wanted(env):
        return []
    names = [n.strip() for n in env.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",")]
    return [_exporter(n, env) for n in names if n and n != "none"]


def configure(service: str, env: Mapping[str, str] = os.environ) -> bool:
    """At process start: the provider and exporters the `OTEL_*` variables ask for (sampler:
    `OTEL_TRACES_SAMPLER`; batching: `OTEL_BSP_*`; resource: `OTEL_SERVICE_NAME`,
    `OTEL_RESOURCE_ATTRIBUTES`). Returns whether tracing is on; raises ValueError on a setting
    it cannot honour. The provider flushes its spans when the process exits."""
    exporters = span_exporters(env)
    if not exporters:
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # OTEL_SERVICE_NAME, when given, names the service; else alliance-<service>.
    named = {} if env.get("OTEL_SERVICE_NAME") else {"service.name": f"alliance-{service}"}
    provider = TracerProvider(resource=Resource.create(named))
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    use_provider(provider)
    return True


def use_provider(provider: TracerProvider | None) -> None:
    """Traces go to `provider` from now on (None: tracing off). Tests pass one with the SDK's
    in-memory exporter; apps built afterwards add their HTTP and GraphQL spans."""
    global _tracer, _provider
    _provider = provider
    _tracer = provider.get_tracer("alliance") if provider is not None else None


def provider() -> TracerProvider | None:
    return _provider


def enabled() -> bool:
    return _tracer is not None


def _traceparent(span_context: SpanContext) -> str:
    flags = int(span_context.trace_flags)
    return f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-{flags:02x}"


def _parse(value: str | bytes) -> SpanContext | None:
    """A W3C `traceparent` (version 00) as a remote span context; None when malformed."""
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    parts = text.strip().split("-")
    if len(parts) != 4 or parts[0] != "00" or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=trace.TraceFlags(flags))


def context_in(headers: Sequence[tuple[str, bytes]]) -> SpanContext | None:
    """The span context a record's headers carry, if any."""
    for name, value in headers:
        if name == TRACEPARENT:
            return _parse(value)
    return None


def _as_parent(span_context: SpanContext) -> otel_context.Context:
    return trace.set_span_in_context(NonRecordingSpan(span_context), otel_context.Context())


def traceparent_for(event: Any) -> str | None:
    """The `traceparent` an outbox row for `event` keeps: within a consumer batch, that of the
    span of its case's record; else the active span's. None when tracing is off or no span."""
    if _tracer is None:
        return None
    spans = _batch_spans.get()
    if spans is not None:
        found = spans.get((getattr(event, "clinic_id", ""), getattr(event, "case_id", "")))
        if found is not None:
            return _traceparent(found)
    current = trace.get_current_span().get_span_context()
    return _traceparent(current) if current.is_valid else None


def log_ids() -> tuple[str, str] | None:
    """The active span's trace and span ids (hex), for a log line; None without one."""
    if _tracer is None:
        return None
    current = trace.get_current_span().get_span_context()
    if not current.is_valid:
        return None
    return f"{current.trace_id:032x}", f"{current.span_id:016x}"


def _failed(span: Span, exc: BaseException) -> None:
    # The error's type only: messages can quote data (alliance_platform.logs.describe).
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
    span.set_attribute("error.type", type(exc).__name__)


@contextlib.contextmanager
def _span(
    name: str,
    kind: SpanKind,
    attributes: Mapping[str, str | int],
    parent: SpanContext | None = None,
    *,
    links: Sequence[Link] = (),
    root: bool = False,
) -> Iterator[Span]:
    """A span made the active one; `parent` (remote) or `root`, else the active span's child."""
    assert _tracer is not None
    context = _as_parent(parent) if parent is not None else None
    if root:
        context = otel_context.Context()
    with _tracer.start_as_current_span(
        name,
        context=context,
        kind=kind,
        attributes=attributes,
        links=links,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            _failed(span, exc)
            raise


def transaction(schema: str) -> contextlib.AbstractContextManager[object]:
    """A span around one PostgreSQL transaction (a unit of work, a one-statement write)."""
    if _tracer is None:
        return _NOTHING
    attributes = {"db.system.name": "postgresql", "db.namespace": schema}
    return _span("db transaction", SpanKind.CLIENT, attributes)


def enqueue(schema: str, rows: int) -> contextlib.AbstractContextManager[object]:
    """A span for writing outbox rows: the rows keep it as their parent (`traceparent_for`)."""
    if _tracer is None:
        return _NOTHING
    return _span(
        "outbox enqueue", SpanKind.INTERNAL, {"outbox.schema": schema, "outbox.rows": rows}
    )


def webhook(traceparent: str | None, clinic_id: str) -> contextlib.AbstractContextManager[object]:
    """A span for one webhook attempt, in the trace of the notice it delivers."""
    if _tracer is None:
        return _NOTHING
    parent = _parse(traceparent) if traceparent else None
    return _span("webhook POST", SpanKind.CLIENT, {"alliance.clinic_id": clinic_id}, parent)


class Record(Protocol):
    """A Kafka record as the relay holds it or the consumer got it."""

    @property
    def topic(self) -> str: ...

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class Consumed(Protocol):
    @property
    def source(self) -> Record: ...

    @property
    def event(self) -> Any: ...


def _kafka(topic: str, operation: str) -> dict[str, str | int]:
    return {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.operation.type": operation,
    }


def publishing(rows: Sequence[Record]) -> contextlib.AbstractContextManager[object]:
    """Around one round of the outbox relay: a producer span for each row that carries a trace,
    a child of the span that enqueued it, ended when the round ends."""
    if _tracer is None:
        return _NOTHING
    return _publishing(rows)


@contextlib.contextmanager
def _publishing(rows: Sequence[Record]) -> Iterator[None]:
    assert _tracer is not None
    spans: list[Span] = []
    for row in rows:
        parent = context_in(row.headers)
        if parent is not None:
            spans.append(
                _tracer.start_span(
                    f"publish {row.topic}",
                    context=_as_parent(parent),
                    kind=SpanKind.PRODUCER,
                    attributes=_kafka(row.topic, "send"),
                )
            )
    with _ending(spans):
        yield


@contextlib.contextmanager
def _ending(spans: Sequence[Span]) -> Iterator[None]:
    """Ends the spans when the block does; failed, with the error's type, if it raised."""
    try:
        yield
    except BaseException as exc:
        for span in spans:
            _failed(span, exc)
        raise
    finally:
        for span in spans:
            span.end()


def consuming(delivered: Sequence[Consumed]) -> contextlib.AbstractContextManager[object]:
    """Around a consumer batch's processing: the batch span (a root, linked to each record's
    context) is the active one; each record that carries a trace gets a span in it."""
    if _tracer is None or not delivered:
        return _NOTHING
    return _consuming(delivered)


@contextlib.contextmanager
def _consuming(delivered: Sequence[Consumed]) -> Iterator[None]:
    assert _tracer is not None
    topic = delivered[0].source.topic
    carried = [(d, c) for d in delivered if (c := context_in(d.source.headers)) is not None]
    links = [Link(c) for _, c in carried]
    batch_attributes = {**_kafka(topic, "process"), "messaging.batch.message_count": len(delivered)}
    started = time.time_ns()
    with _span(
        f"process {topic} batch", SpanKind.CONSUMER, batch_attributes, links=links, root=True
    ) as batch:
        batch_link = [Link(batch.get_span_context())]
        spans: list[Span] = []
        by_case: dict[tuple[str, str], SpanContext] = {}
        for one, parent in carried:
            span = _tracer.start_span(
                f"process {topic}",
                context=_as_parent(parent),
                kind=SpanKind.CONSUMER,
                attributes=_kafka(topic, "process"),
                links=batch_link,
                start_time=started,
            )
            spans.append(span)
            event = one.event
            case = (getattr(event, "clinic_id", ""), getattr(event, "case_id", ""))
            by_case[case] = span.get_span_context()
        token = _batch_spans.set(by_case)
        try:
            with _ending(spans):
                yield
        finally:
            _batch_spans.reset(token)


# ASGI's types, spelt out: use cases import the outbox, which imports this module, and may not
# depend on a web framework (import-linter).
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class TracedHttp:
    """ASGI middleware: a server span per HTTP request, continuing the caller's `traceparent`.
    Named by method and route template (never the path: it holds ids)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracer = _tracer
        if tracer is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parent = next((_parse(v) for k, v in scope["headers"] if k == _TRACEPARENT_BYTES), None)
        method = scope["method"]
        with _span(method, SpanKind.SERVER, {"http.request.method": method}, parent) as span:

            async def traced_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            try:
                await self.app(scope, receive, traced_send)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route:
                    span.set_attribute("http.route", route)
                    span.update_name(f"{method} {route}")


def instrument_http(app: Any) -> None:
    """Adds `TracedHttp` (outermost) when tracing is on; nothing at all when it is off."""
    if _tracer is not None:
        app.add_middleware(TracedHttp)
