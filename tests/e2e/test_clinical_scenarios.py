"""Clinical scenarios through the real pipeline: HTTP in, Kafka, scoring, PostgreSQL, GraphQL out.

Each scenario is a realistic session series; the pure-fold versions are in
tests/unit/test_clinical_rules.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from alliance_contracts.access import Scope
from alliance_contracts.topics import SCORED
from alliance_devstack.processes import ServiceProcess
from tests.conftest import eventually
from tests.helpers import T0, bearer, clinic_system, read_topic, response_body
from tests.stack import Endpoints

CASE = """query($clinic: ID!, $case: ID!) { case(clinicId: $clinic, caseId: $case) {
  phase latestSession episode { status ending } readiness { ready reasons }
  outcomes { instrument outcomeClass improvement onTrack expectedImprovement }
  splits { gap active reason }
  signals { kind severity summary evidence { rule inputs } }
  dyads { respondentRole responses phase discrepancy
          ruptures { openedSession status severity resolvedSession evidence { rule } } } } }"""


ALERTS = """query($clinic: ID!) { alerts(clinicId: $clinic, first: 100) {
  edges { node { caseId kind status priority escalated history { action } } } } }"""


def srs(clinic: str, case: str, totals: list[float], **kw: Any) -> list[dict[str, Any]]:
    return [response_body(clinic, case, s, t / 4, **kw) for s, t in enumerate(totals, start=1)]


def ors(clinic: str, case: str, totals: dict[int, float]) -> list[dict[str, Any]]:
    return [response_body(clinic, case, s, t / 4, instrument="ORS") for s, t in totals.items()]


def ending(clinic: str, case: str, kind: str, session: int) -> dict[str, Any]:
    return {
        "clinic_id": clinic,
        "case_id": case,
        "therapist_id": "th-1",
        "ending": kind,
        "ended_at": (T0 + timedelta(weeks=session, days=1)).isoformat(),
        "last_session_number": session,
        "idempotency_key": f"{case}-ending",
    }


async def post_case(
    client: httpx.AsyncClient,
    intake: str,
    bodies: list[dict[str, Any]],
    end: dict[str, Any] | None = None,
) -> None:
    for body in bodies:  # one case's submissions in order
        ehr = clinic_system([body["clinic_id"]])
        r = await client.post(f"{intake}/v1/responses", json=body, headers=ehr)
        assert r.status_code == 202, r.text
    if end is not None:
        ehr = clinic_system([end["clinic_id"]])
        r = await client.post(f"{intake}/v1/episode-endings", json=end, headers=ehr)
        assert r.status_code == 202, r.text


async def test_every_alliance_and_outcome_pattern_reaches_graphql(
    stack: Endpoints, services: dict[str, ServiceProcess], ids: Callable[[str], str]
) -> None:
    clinic = ids("clinic")
    c = {
        name: f"{clinic}-{name}"
        for name in (
            "repair",
            "unresolved",
            "split",
            "recovery",
            "deteriorate",
            "offtrack",
            "dropout",
            "oq",
        )
    }
    oq_answers = dict.fromkeys(range(1, 46), 0)
    oq_answers[8] = 2  # a critical item (substance use, violence, suicidality: any but "never")
    oq = response_body(clinic, c["oq"], 1, 1, instrument="OQ-45.2")
    oq["answers"] = {str(k): v for k, v in oq_answers.items()}
    scripts = {
        "repair": (srs(clinic, c["repair"], [38, 38, 30, 34, 38]), None),
        "unresolved": (srs(clinic, c["unresolved"], [38, 30, 30, 30, 30, 30, 30, 30]), None),
        "split": (
            [
                *srs(clinic, c["split"], [38, 28], instrument="CSRS", form="child"),
                *srs(clinic, c["split"], [39.2, 39.2], role="parent", respondent_id="p1"),
            ],
            None,
        ),
        "recovery": (
            [
                *ors(clinic, c["recovery"], {1: 18, 2: 24, 3: 28, 4: 30}),
                *srs(clinic, c["recovery"], [38, 38, 38, 38]),
            ],
            ending(clinic, c["recovery"], "planned", 4),
        ),
        "deteriorate": (ors(clinic, c["deteriorate"], {1: 20, 2: 14.8}), None),
        "offtrack": (ors(clinic, c["offtrack"], {1: 10, 4: 10.8}), None),
        "dropout": (
            srs(clinic, c["dropout"], [38, 30, 30]),
            ending(clinic, c["dropout"], "unilateral", 3),
        ),
        "oq": ([oq], None),
    }
    intake, gateway = services["intake"].url, services["gateway"].url
    async with httpx.AsyncClient(timeout=10, headers=bearer("supervisor", [clinic])) as client:
        await asyncio.gather(*(post_case(client, intake, b, e) for b, e in scripts.values()))

        async def read(name: str, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
            async def probe() -> dict[str, Any] | None:
                r = await client.post(
                    f"{gateway}/graphql",
                    json={"query": CASE, "variables": {"clinic": clinic, "case": c[name]}},
                )
                found = r.json()["data"]["case"]
                return found if found and ready(found) else None

            return await eventually(probe, within=60)

        def dyad(case: dict[str, Any], role: str) -> dict[str, Any]:
            return next(d for d in case["dyads"] if d["respondentRole"] == role)

        repair = await read("repair", lambda k: k["latestSession"] == 5)
        unresolved = await read("unresolved", lambda k: k["latestSession"] == 8)
        split = await read("split", lambda k: k["latestSession"] == 2 and len(k["dyads"]) == 2)
        recovery = await read("recovery", lambda k: k["phase"] == "CLOSED")
        deteriorate = await read("deteriorate", lambda k: k["latestSession"] == 2)
        offtrack = await read("offtrack", lambda k: k["latestSession"] == 4)
        dropout = await read("dropout", lambda k: k["phase"] == "CLOSED")

        expected_alerts = {
            ("repair", "EARLY_LOW_ALLIANCE", "RESOLVED"),  # back above the cut-off by itself
            ("unresolved", "EARLY_LOW_ALLIANCE", "OPEN"),  # escalated when it went unresolved
            ("split", "SPLIT_ALLIANCE", "OPEN"),
            ("recovery", "TERMINATION_READINESS", "RESOLVED"),  # closed by the planned ending
            ("deteriorate", "DETERIORATION", "OPEN"),
            ("offtrack", "OFF_TRACK", "OPEN"),
            ("dropout", "EARLY_LOW_ALLIANCE", "RESOLVED"),  # closed with the episode
            ("oq", "CRITICAL_ITEM", "OPEN"),  # critical items stay until followed up
        }

        async def alerts_settled() -> list[dict[str, Any]] | None:
            r = await client.post(
                f"{gateway}/graphql", json={"query": ALERTS, "variables": {"clinic": clinic}}
            )
            nodes = [e["node"] for e in r.json()["data"]["alerts"]["edges"]]
            seen = {(n["caseId"].removeprefix(f"{clinic}-"), n["kind"], n["status"]) for n in nodes}
            return nodes if expected_alerts <= seen else None

        alert_nodes = await eventually(alerts_settled, within=60)

    by_case = {n["caseId"].removeprefix(f"{clinic}-"): n for n in alert_nodes}
    assert by_case["unresolved"]["escalated"] is True
    assert by_case["oq"]["priority"] == "SAME_DAY" and by_case["oq"]["escalated"]  # noqa: PT018
    assert by_case["repair"]["history"][-1]["action"] == "auto_resolved"

    [rupture] = dyad(repair, "CLIENT")["ruptures"]
    assert (rupture["openedSession"], rupture["status"], rupture["resolvedSession"]) == (
        3,
        "REPAIRED",
        5,
    )
    assert {e["rule"] for e in rupture["evidence"]} == {"below_cutoff", "drop_from_previous"}

    [rupture] = dyad(unresolved, "CLIENT")["ruptures"]
    assert (rupture["status"], rupture["resolvedSession"]) == ("UNRESOLVED", 8)
    assert unresolved["phase"] == "WORK"

    [pair] = split["splits"]
    assert pair["active"] and abs(pair["gap"] - (39.2 - 28) / 40) < 1e-3  # noqa: PT018

    [outcome] = recovery["outcomes"]
    assert outcome["outcomeClass"] == "RECOVERED"
    assert recovery["episode"] == {"status": "ended", "ending": "planned"}
    newest_first = [s["kind"] for s in recovery["signals"]]
    assert newest_first[0] == "PHASE_CHANGED"  # termination -> closed by the planned ending
    [ready] = [s for s in recovery["signals"] if s["kind"] == "TERMINATION_READY"]
    assert ready["evidence"][0]["rule"] == "termination_readiness"
    assert any("ORS recovered" in r for r in ready["evidence"][0]["inputs"]["reasons"])

    assert deteriorate["outcomes"][0]["outcomeClass"] == "DETERIORATED"
    assert offtrack["outcomes"][0]["onTrack"] is False
    assert dropout["episode"] == {"status": "ended", "ending": "unilateral"}
    assert dyad(dropout, "CLIENT")["ruptures"][0]["status"] == "OPEN"

    # The derived events on Kafka: readiness came before the planned ending; the critical item
    # of the OQ-45.2 response is an immediate signal.
    records = [
        r
        for r in await read_topic(stack.kafka_bootstrap_servers, SCORED.name)
        if r.key.decode().startswith(clinic)
    ]
    signals = [
        json.loads(r.value)["payload"]
        for r in records
        if json.loads(r.value)["event_type"] == "clinical.signal"
    ]
    kinds = {s["kind"] for s in signals}
    assert {
        "rupture_opened",
        "rupture_repaired",
        "rupture_escalated",
        "split_detected",
        "termination_ready",
        "deteriorated",
        "off_track",
        "critical_item",
        "phase_changed",
    } <= kinds
    [critical] = [s for s in signals if s["kind"] == "critical_item"]
    assert critical["evidence"][0]["inputs"]["items"] == [8]


async def test_clinic_configuration_changes_the_rules_for_that_clinic_only(
    services: dict[str, ServiceProcess], ids: Callable[[str], str]
) -> None:
    tuned, default = ids("tuned-clinic"), ids("default-clinic")
    intake, gateway = services["intake"].url, services["gateway"].url
    headers = bearer("supervisor", [tuned, default])
    admin = clinic_system([tuned], (Scope.CLINIC_ADMIN,))
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        bad = await client.patch(
            f"{intake}/v1/clinics/{tuned}/configuration",
            headers=admin,
            json={
                "overrides": {"alliance_cutoffs": {"SRS": {"value": "low"}}},
                "idempotency_key": "config-bad-0001",
            },
        )
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"][:4] == [
            "body",
            "overrides",
            "alliance_cutoffs",
            "SRS",
        ]
        change = {
            "overrides": {
                "alliance_cutoffs": {
                    "SRS": {"value": 30, "source": "clinic policy", "confidence": "U"}
                },
                "rules_enabled": {"drop_from_previous": False},
            },
            "effective_from": T0.isoformat(),
            "idempotency_key": "config-srs-30-0001",
        }
        configuration = f"{intake}/v1/clinics/{tuned}/configuration"
        ok = await client.patch(configuration, json=change, headers=admin)
        assert ok.status_code == 202, ok.text
        again = await client.patch(configuration, json=change, headers=admin)
        assert again.json() == {**ok.json(), "duplicate": True}
        current = (await client.get(configuration, headers=admin)).json()
        assert current["version"] == 1
        assert current["configuration"]["alliance_cutoffs"]["SRS"]["value"] == 30

        for clinic in (tuned, default):
            await post_case(client, intake, srs(clinic, f"{clinic}-case", [38, 32.4]))

        async def ruptures(clinic: str) -> list[Any] | None:
            r = await client.post(
                f"{gateway}/graphql",
                json={"query": CASE, "variables": {"clinic": clinic, "case": f"{clinic}-case"}},
            )
            found = r.json()["data"]["case"]
            if not found or found["latestSession"] != 2:
                return None
            return [found["dyads"][0]["ruptures"]]

        [tuned_ruptures] = await eventually(lambda: ruptures(tuned), within=60)
        [default_ruptures] = await eventually(lambda: ruptures(default), within=60)
    assert tuned_ruptures == []  # 32.4 is above the clinic's cut-off of 30; drops switched off
    [rupture] = default_ruptures
    assert {e["rule"] for e in rupture["evidence"]} == {"below_cutoff", "drop_from_previous"}
