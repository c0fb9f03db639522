"""Tracing (alliance_platform.tracing, decision 0025): when it is on, what turns it on, what
each hop carries; and that off, the hops do nothing at all."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.types import Receive, Scope, Send

from alliance_contracts.topics import RESPONSES
from alliance_platform import tracing
from alliance_platform.dead_letters import Source
from alliance_platform.logs import JsonFormatter
from alliance_platform.outbox import OutboxMessage
from alliance_platform.tracking import Delivered
from tests.helpers import submitted_event

TRACE, PARENT = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331
HEADER = f"00-{TRACE:032x}-{PARENT:016x}-01"


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_tracing_is_off_unless_an_exporter_is_asked_for(env: dict[str, str], wanted: bool) -> None:
    assert tracing.tracing_wanted(env) is wanted
    assert bool(tracing.span_exporters(env)) is wanted


def test_an_exporter_it_cannot_honour_refuses_to_start() -> None:
    with pytest.raises(ValueError, match="http/protobuf"):
        tracing.span_exporters(
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
        )
    with pytest.raises(ValueError, match="otlp, console or none"):
        tracing.span_exporters({"OTEL_TRACES_EXPORTER": "jaeger"})
    assert not tracing.configure("intake", {})  # nothing asked for: nothing set up
    assert not tracing.enabled()


def test_off_every_hop_is_the_same_no_op_and_rows_carry_no_trace() -> None:
    assert not tracing.enabled()
    event = submitted_event("clinic-1", "case-1", 1, 8.0)
    nothing = tracing.transaction("intake")
    assert nothing is tracing.enqueue("intake", 1)
    assert nothing is tracing.publishing([])
    assert nothing is tracing.consuming([])
    assert nothing is tracing.webhook(HEADER, "clinic-1")
    assert tracing.traceparent_for(event) is None
    assert tracing.log_ids() is None
    headers = json.loads(OutboxMessage(RESPONSES, event).row()[4])
    assert tracing.TRACEPARENT not in headers


def test_an_outbox_row_keeps_the_active_span_and_logs_carry_its_ids(
    spans: InMemorySpanExporter,
) -> None:
    event = submitted_event("clinic-1", "case-1", 1, 8.0)
    record = logging.makeLogRecord({"msg": "accepted", "levelno": logging.INFO})
    with tracing.transaction("intake"):
        headers = json.loads(OutboxMessage(RESPONSES, event).row()[4])
        logged = json.loads(JsonFormatter("intake").format(record))
    [span] = spans.get_finished_spans()
    assert span.context is not None
    trace_id, span_id = f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"
    flags = f"{int(span.context.trace_flags):02x}"  # sampled (and random, W3C level 2)
    assert headers[tracing.TRACEPARENT] == f"00-{trace_id}-{span_id}-{flags}"
    assert (logged["trace_id"], logged["span_id"]) == (trace_id, span_id)
    assert "trace_id" not in json.loads(JsonFormatter("intake").format(record))  # no span now


@pytest.mark.parametrize(
    "value",
    [b"", b"garbage", b"01-" + HEADER[3:].encode(), f"00-{0:032x}-{PARENT:016x}-01".encode()],
)
def test_a_malformed_traceparent_is_ignored(value: bytes) -> None:
    assert tracing.context_in([("traceparent", value)]) is None


def record(headers: tuple[tuple[str, bytes], ...]) -> Source:
    return Source(RESPONSES.name, 0, 0, None, b"{}", headers)


def test_a_batch_is_a_root_linked_to_its_records_and_each_record_continues_its_trace(
    spans: InMemorySpanExporter,
) -> None:
    other = f"00-{TRACE + 1:032x}-{PARENT + 1:016x}-01"
    first = submitted_event("clinic-1", "case-1", 1, 8.0)
    second = submitted_event("clinic-1", "case-2", 1, 8.0)
    batch = [
        Delivered(record((("traceparent", HEADER.encode()),)), first),
        Delivered(record((("traceparent", other.encode()),)), second),
        Delivered(record(()), submitted_event("clinic-1", "case-3", 1, 8.0)),
    ]
    with tracing.consuming(batch):
        derived = tracing.traceparent_for(first), tracing.traceparent_for(second)
        with tracing.transaction("scoring_blue"):
            pass
    finished = {s.name: s for s in spans.get_finished_spans() if s.name.endswith("batch")}
    root = finished[f"process {RESPONSES.name} batch"]
    assert root.parent is None
    assert root.kind is SpanKind.CONSUMER
    assert [(link.context.trace_id, link.context.span_id) for link in root.links] == [
        (TRACE, PARENT),
        (TRACE + 1, PARENT + 1),
    ]
    records = [s for s in spans.get_finished_spans() if s.name == f"process {RESPONSES.name}"]
    assert [(s.context.trace_id, s.parent.span_id) for s in records if s.context and s.parent] == [
        (TRACE, PARENT),
        (TRACE + 1, PARENT + 1),
    ]
    assert [
        f"00-{s.context.trace_id:032x}-{s.context.span_id:016x}-01" for s in records if s.context
    ] == list(derived)  # the remote parents' flags
    [transaction] = [s for s in spans.get_finished_spans() if s.name == "db transaction"]
    assert transaction.parent is not None
    assert root.context is not None
    assert transaction.parent.span_id == root.context.span_id


async def test_an_http_request_continues_its_callers_trace(spans: InMemorySpanExporter) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    transport = httpx.ASGITransport(app=tracing.TracedHttp(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/v1/cases/case-1", headers={"traceparent": HEADER})
    assert answer.status_code == 503
    [span] = spans.get_finished_spans()
    assert span.kind is SpanKind.SERVER
    assert span.name == "GET"
    assert span.context is not None
    assert span.parent is not None
    assert (span.context.trace_id, span.parent.span_id) == (TRACE, PARENT)
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 503
    assert not span.status.is_ok


def test_a_process_told_an_otlp_endpoint_exports_its_spans_there() -> None:
    """`configure` as a service process runs it: the spans reach the collector named by
    OTEL_EXPORTER_OTLP_ENDPOINT (here a loopback receiver), as OTLP over HTTP/protobuf."""
    received: list[tuple[str, str]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            received.append((self.path, self.headers["content-type"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    script = (
        "from alliance_platform import tracing\n"
        "assert tracing.configure('scoring')\n"
        "with tracing.transaction('scoring_blue'):\n"
        "    pass\n"
        "tracing.provider().force_flush()\n"
    )
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}"}
    try:
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
    finally:
        server.shutdown()
    assert received == [("/v1/traces", "application/x-protobuf")]
