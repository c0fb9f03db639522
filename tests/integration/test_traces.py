"""One response's trace, on real Kafka and PostgreSQL: intake, scoring, alerts, the webhook, and
a GraphQL read, in-process apps sharing one tracer provider with the SDK's in-memory exporter
(decision 0025)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from alliance_alerts.entrypoints.app import create_app as alerts_app
from alliance_contracts.topics import NOTICES, RESPONSES, SCORED
from alliance_gateway.entrypoints.app import create_app as gateway_app
from alliance_gateway.settings import GatewaySettings
from alliance_intake.entrypoints.http import create_app as intake_app
from alliance_scoring.entrypoints.app import create_app as scoring_app
from alliance_scoring.settings import ScoringSettings
from tests.conftest import eventually
from tests.helpers import AUTH_ENV, bearer, clinic_system, graphql, response_body, serving
from tests.integration.test_intake import settings as intake_settings
from tests.integration.test_webhooks import Receiver, serve
from tests.integration.test_webhooks import settings as alerts_settings
from tests.stack import Endpoints

ALERTS = """query($clinic: ID!) { alerts(clinicId: $clinic) { edges { node { kind } } } }"""


def one(found: Sequence[ReadableSpan], what: str) -> ReadableSpan:
    assert len(found) == 1, f"{what}: {[s.name for s in found]}"
    return found[0]


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.trace_id)


async def test_one_responses_trace_links_intake_scoring_alerts_and_its_webhook(
    stack: Endpoints, pg: asyncpg.Pool, spans: InMemorySpanExporter, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    receiver = Receiver([])
    scoring_settings = ScoringSettings.model_validate(stack.service_env("scoring"))
    gateway_settings = GatewaySettings.model_validate({**stack.service_env("gateway"), **AUTH_ENV})
    async with (
        serve(receiver.app) as url,
        serving(alerts_app(alerts_settings(stack, 3))) as alerts,
        serving(scoring_app(scoring_settings)),
        serving(intake_app(intake_settings(stack))) as intake,
        serving(gateway_app(gateway_settings)) as gateway,
    ):
        hook = await alerts.put(
            f"/v1/clinics/{clinic}/webhook",
            json={"url": url},
            headers=bearer("clinic_admin", [clinic]),
        )
        assert hook.status_code == 200, hook.text
        oq = response_body(clinic, case, 1, 0, instrument="OQ-45.2")
        oq["answers"]["26"] = 2  # a critical item: an alert, a notice, a webhook
        accepted = await intake.post("/v1/responses", json=oq, headers=clinic_system([clinic]))
        assert accepted.status_code == 202, accepted.text

        async def delivered() -> bool:
            return any(case.encode() in body for body, _ in receiver.received)

        await eventually(delivered, within=60)

        # A GraphQL read continues its caller's trace.
        caller_trace, caller_span = uuid.uuid4().int, uuid.uuid4().int >> 64
        gateway.headers.update(
            {
                **bearer("supervisor", [clinic]),
                "traceparent": f"00-{caller_trace:032x}-{caller_span:016x}-01",
            }
        )
        data = await graphql(gateway, "", ALERTS, clinic=clinic)
        assert [e["node"]["kind"] for e in data["alerts"]["edges"]] == ["CRITICAL_ITEM"]

        async def webhook_spans() -> list[ReadableSpan]:
            return [s for s in spans.get_finished_spans() if s.name == "webhook POST"]

        await eventually(webhook_spans, within=10)

    finished = spans.get_finished_spans()
    # The HTTP request starts the trace.
    http = one(
        [
            s
            for s in finished
            if s.kind is SpanKind.SERVER
            and s.attributes is not None
            and s.attributes.get("http.request.method") == "POST"
            and s.attributes.get("http.response.status_code") == 202
            and s.parent is None
        ],
        "intake's POST",
    )
    trace = trace_id(http)
    in_trace = [s for s in finished if trace_id(s) == trace]

    def named(name: str, parent: ReadableSpan) -> ReadableSpan:
        return one(
            [s for s in in_trace if s.name == name and parent_of(s) == span_id(parent)],
            f"{name} under {parent.name}",
        )

    def under(name: str, parents: Sequence[ReadableSpan]) -> list[ReadableSpan]:
        ids = {span_id(p) for p in parents}
        return [s for s in in_trace if s.name == name and parent_of(s) in ids]

    # intake: its one-statement transaction, the outbox row it wrote, the relay's publish.
    transaction = named("db transaction", http)
    enqueued = named("outbox enqueue", transaction)
    named(f"publish {RESPONSES.name}", enqueued)
    # scoring: the record's span continues the row's trace; the batch links to it.
    scoring = named(f"process {RESPONSES.name}", enqueued)
    batch = one(
        [
            s
            for s in finished
            if s.name == f"process {RESPONSES.name} batch"
            and any(link.context.span_id == span_id(enqueued) for link in s.links)
        ],
        "scoring's batch",
    )
    assert batch.parent is None  # a root of its own: a batch holds many traces
    assert [link.context.span_id for link in scoring.links] == [span_id(batch)]
    scoring_transaction = one(
        [s for s in finished if s.name == "db transaction" and parent_of(s) == span_id(batch)],
        "scoring's transaction in its batch",
    )
    assert scoring_transaction.attributes is not None
    # scoring's derived events (the score, the signal) go on in the record's trace: published,
    # consumed by alerts; alerts' notice likewise, consumed by its delivery; then the webhook.
    assert under(f"publish {SCORED.name}", [scoring])
    alerting = under(f"process {SCORED.name}", [scoring])
    assert under(f"publish {NOTICES.name}", alerting)
    delivering = under(f"process {NOTICES.name}", alerting)
    webhooks = under("webhook POST", delivering)  # the alert raised, and escalated at once
    assert len(webhooks) == len(receiver.received)
    assert {s.kind for s in webhooks} == {SpanKind.CLIENT}
    services_in_trace = {s.name for s in in_trace}
    assert {f"process {t.name}" for t in (RESPONSES, SCORED, NOTICES)} <= services_in_trace

    # The GraphQL read: the gateway's request span continues the caller's, and the operation
    # and its resolvers are in it.
    read = [s for s in finished if trace_id(s) == caller_trace]
    gateway_http = one(
        [s for s in read if s.kind is SpanKind.SERVER and parent_of(s) == caller_span],
        "the gateway's request",
    )
    operation = one(
        [s for s in read if s.name.startswith("GraphQL") and parent_of(s) == span_id(gateway_http)],
        "the GraphQL operation",
    )
    resolvers = [s for s in read if s.name == "GraphQL Resolving: alerts"]
    assert [parent_of(s) for s in resolvers] == [span_id(operation)]
    for s in read:  # neither the document nor its arguments
        attributes: dict[str, Any] = dict(s.attributes or {})
        assert "query" not in attributes
        assert not [k for k in attributes if k.startswith("graphql.param")]
