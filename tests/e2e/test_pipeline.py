"""End to end: HTTP in, Kafka, scoring, alerts, PostgreSQL, GraphQL out, four OS processes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from alliance_devstack.processes import ServiceProcess
from tests.conftest import eventually
from tests.helpers import bearer, clinic_system, graphql, response_body

CASE = """query($clinic: ID!, $case: ID!) { case(clinicId: $clinic, caseId: $case) {
  dyads { respondentRole respondentId responses
          latest { instrument total } timeline { instrument sessionNumber total } } } }"""
ALERTS = """query($clinic: ID!) { alerts(clinicId: $clinic, status: OPEN) {
  edges { node { caseId kind respondentRole sessionNumber therapistId
                 evidence { rule threshold inputs } } } } }"""


async def test_responses_posted_over_http_show_up_in_graphql(
    services: dict[str, ServiceProcess], ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    intake, gateway = services["intake"].url, services["gateway"].url
    headers = bearer("supervisor", [clinic])
    bodies = [
        response_body(clinic, case, 1, 9.5),  # SRS 38
        response_body(clinic, case, 2, 8.0),  # SRS 32: below the cut-off of 36
        response_body(clinic, case, 3, 7.0),  # SRS 28: still low, the alert is already open
        response_body(clinic, case, 1, 9.8, role="parent", respondent_id="p1"),
        response_body(clinic, case, 2, 4, instrument="WAI-SR"),
    ]
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        for body in bodies:
            accepted = await client.post(
                f"{intake}/v1/responses", json=body, headers=clinic_system([clinic])
            )
            assert accepted.status_code == 202, accepted.text

        async def projected() -> Any:
            data = await graphql(client, gateway, CASE, clinic=clinic, case=case)
            dyads = (data["case"] or {}).get("dyads", [])
            return dyads if sum(d["responses"] for d in dyads) == 5 else None

        dyads = await eventually(projected, within=60)

        async def alerted() -> Any:
            data = await graphql(client, gateway, ALERTS, clinic=clinic)
            edges = data["alerts"]["edges"]
            return edges if len(edges) >= 2 else None

        alerts = await eventually(alerted, within=60)

    by_role = {d["respondentRole"]: d for d in dyads}
    client_dyad = by_role["CLIENT"]
    srs = [
        (p["sessionNumber"], p["total"])
        for p in client_dyad["timeline"]
        if p["instrument"] == "SRS"
    ]
    assert srs == [(1, 38.0), (2, 32.0), (3, 28.0)]
    assert {"instrument": "WAI-SR", "total": 48.0} in client_dyad["latest"]
    assert by_role["PARENT"]["respondentId"] == "p1"
    assert by_role["PARENT"]["timeline"][0]["total"] == 39.2
    kinds = sorted(a["node"]["kind"] for a in alerts)
    # One early-warning alert for the client's dyad though it stays low (de-duplication), and a
    # split: the parent's alliance stays high while the client's is low.
    assert kinds == ["EARLY_LOW_ALLIANCE", "SPLIT_ALLIANCE"]
    alert = next(a["node"] for a in alerts if a["node"]["kind"] == "EARLY_LOW_ALLIANCE")
    assert (alert["caseId"], alert["respondentRole"], alert["sessionNumber"]) == (case, "CLIENT", 2)
    assert alert["therapistId"] == "th-1"
    early = next(e for e in alert["evidence"] if e["rule"] == "early_low_alliance")
    assert early["inputs"]["total"] == 32.0
    assert early["threshold"] == 36.0


async def test_alerts_go_to_the_assigned_therapist_and_critical_items_to_supervisors(
    services: dict[str, ServiceProcess], ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    intake, gateway = services["intake"].url, services["gateway"].url
    query = """query($clinic: ID!) { alerts(clinicId: $clinic) {
      edges { node { kind therapistId escalated priority history { action } } } } }"""
    async with httpx.AsyncClient(timeout=10, headers=bearer("supervisor", [clinic])) as client:
        for path, body in [
            (
                f"/v1/clinics/{clinic}/staff/sup-7",
                {"role": "supervisor", "idempotency_key": f"{clinic}-sup7"},
            ),
            (
                f"/v1/clinics/{clinic}/cases/{case}/assignment",
                {"therapist_id": "th-9", "idempotency_key": f"{case}-assign"},
            ),
        ]:
            r = await client.put(f"{intake}{path}", json=body, headers=clinic_system([clinic]))
            assert r.status_code == 202, r.text
        oq = response_body(clinic, case, 1, 0, instrument="OQ-45.2")
        oq["answers"]["26"] = 2  # a critical item
        r = await client.post(f"{intake}/v1/responses", json=oq, headers=clinic_system([clinic]))
        assert r.status_code == 202, r.text

        async def critical() -> Any:
            edges = (await graphql(client, gateway, query, clinic=clinic))["alerts"]["edges"]
            return [e["node"] for e in edges if e["node"]["kind"] == "CRITICAL_ITEM"]

        [alert] = await eventually(critical, within=60)
    assert alert["therapistId"] == "th-9"  # the assignment, not the therapist who administered
    assert alert["priority"] == "SAME_DAY"
    assert alert["escalated"] is True
    # Raised and escalated at once; "handed_over" too when the assignment arrived after it.
    assert {"raised", "escalated"} <= {h["action"] for h in alert["history"]}
