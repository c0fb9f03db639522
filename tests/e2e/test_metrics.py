"""Prometheus scrapes the four services' `/metrics` (with its token; nobody else can), and what
the traffic did shows up there: HTTP, consumed records, lag, dead letters, outboxes, alert
transitions and GraphQL operations."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from alliance_contracts.topics import RESPONSES
from alliance_devstack.processes import ServiceProcess
from tests.conftest import eventually
from tests.helpers import METRICS_TOKEN, bearer, clinic_system, graphql, produce, response_body
from tests.stack import Endpoints

CASE = """query Case($clinic: ID!, $case: ID!) { case(clinicId: $clinic, caseId: $case) {
  dyads { responses } } }"""
SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}


async def scrape(url: str) -> list[Sample]:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{url}/metrics", headers=SCRAPE)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return [s for f in text_string_to_metric_families(answer.text) for s in f.samples]


def total(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


async def test_metrics_need_the_scrape_token(services: dict[str, ServiceProcess]) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for name, service in services.items():
            url = f"{service.url}/metrics"
            assert (await client.get(url)).status_code == 401, name
            wrong = {"Authorization": f"Bearer {METRICS_TOKEN}x"}
            assert (await client.get(url, headers=wrong)).status_code == 401, name
            # A person's token opens the API, not the metrics.
            person = bearer("network_admin", ["c-1"])
            assert (await client.get(url, headers=person)).status_code == 401, name


async def test_what_the_traffic_did_is_scraped(
    services: dict[str, ServiceProcess], stack: Endpoints, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    intake, scoring, alerts, gateway = (
        services[n].url for n in ("intake", "scoring", "alerts", "gateway")
    )
    before = {name: await scrape(s.url) for name, s in services.items()}
    bodies = [response_body(clinic, case, 1, 9.5), response_body(clinic, case, 2, 7.0)]
    async with httpx.AsyncClient(timeout=10, headers=bearer("supervisor", [clinic])) as client:
        for body in bodies:
            accepted = await client.post(
                f"{intake}/v1/responses", json=body, headers=clinic_system([clinic])
            )
            assert accepted.status_code == 202, accepted.text
        refused = await client.post(
            f"{intake}/v1/responses", json={"clinic_id": clinic}, headers=clinic_system([clinic])
        )
        assert refused.status_code == 422
        await produce(stack.kafka_bootstrap_servers, RESPONSES.name, [b"not an event"])

        async def scored() -> bool:
            data = await graphql(client, gateway, CASE, clinic=clinic, case=case)
            dyads = (data["case"] or {}).get("dyads", [])
            return bool(sum(d["responses"] for d in dyads) == 2)

        await eventually(scored, within=60)

    http = "http_requests_total"
    after = await scrape(intake)
    for status, count in (("2xx", 2), ("4xx", 1)):
        grew = total(after, http, handler="/v1/responses", method="POST", status=status) - total(
            before["intake"], http, handler="/v1/responses", method="POST", status=status
        )
        assert grew == count, status
    assert total(after, "alliance_outbox_backlog_rows", outbox="intake") == 0

    async def scoring_caught_up() -> list[Sample] | None:
        samples = await scrape(scoring)
        lags = [s for s in samples if s.name == "alliance_consumer_lag_records"]
        on_responses = [s for s in lags if s.labels["topic"] == RESPONSES.name]
        return samples if on_responses and all(s.value == 0 for s in on_responses) else None

    # Lag is per group and partition, read when scraped (at most every 5 s).
    scored_samples = await eventually(scoring_caught_up, within=30, interval=1)
    processed = "alliance_consumer_records_total"
    assert (
        total(scored_samples, processed, topic=RESPONSES.name, outcome="processed")
        - total(before["scoring"], processed, topic=RESPONSES.name, outcome="processed")
        >= len(bodies) + 1
    )
    assert (
        total(scored_samples, "alliance_dead_letters_total", topic=RESPONSES.name)
        - total(before["scoring"], "alliance_dead_letters_total", topic=RESPONSES.name)
        == 1
    )
    assert total(scored_samples, "alliance_consumer_batch_seconds_count", topic=RESPONSES.name)
    assert any(s.name == "alliance_outbox_backlog_rows" for s in scored_samples)
    assert any(s.name == "alliance_consumer_parked_records" for s in scored_samples)

    raised = "alliance_alert_transitions_total"

    async def alert_counted() -> bool:
        samples = await scrape(alerts)
        return total(samples, raised, kind="early_low_alliance", action="raised") > total(
            before["alerts"], raised, kind="early_low_alliance", action="raised"
        )

    await eventually(alert_counted, within=60, interval=1)

    operations = await scrape(gateway)
    ok = {"operation": "Case", "type": "query", "outcome": "ok"}
    assert total(operations, "alliance_graphql_operations_total", **ok) > total(
        before["gateway"], "alliance_graphql_operations_total", **ok
    )
    assert total(operations, "alliance_graphql_operation_cost_count", operation="Case") >= 1
    assert total(operations, "alliance_graphql_operation_cost_sum", operation="Case") >= 1
