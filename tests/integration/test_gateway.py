"""Gateway against real PostgreSQL read models: scoping by clinic, keyset pagination, and the
score read model (proration, critical items, clinical range, versions)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from alliance_alerts.adapters.store import save_alerts
from alliance_alerts.domain.rules import Alert, Cause
from alliance_contracts.events import (
    CaseInput,
    ResponseAmended,
    ResponseAmendedPayload,
    ResponseSubmitted,
    RuleEvidence,
)
from alliance_contracts.vocabulary import AlertKind, AlertPriority, AlertStatus
from alliance_gateway.entrypoints.app import create_app
from alliance_gateway.settings import GatewaySettings
from alliance_scoring.adapters.store import insert_scores, save_cases
from alliance_scoring.adapters.unit_of_work import PostgresScoringUnitOfWork
from alliance_scoring.application.project import project_batch
from alliance_scoring.domain.dyads import score
from alliance_scoring.domain.state import CaseState
from tests.helpers import (
    AUTH_ENV,
    bearer,
    create_projection_tables,
    on_live_slots,
    serving,
    slot_pool,
)
from tests.stack import Endpoints
from tests.unit.clinical import demographics, fold, response

T0 = datetime(2026, 10, 1, tzinfo=UTC)

CASE_QUERY = """query($clinic: ID!, $case: ID!) { case(clinicId: $clinic, caseId: $case) {
  caseId phase latestSession episode { status ending }
  outcomes { instrument respondentRole baselineTotal latestTotal improvement outcomeClass
             cutoff reliableChange onTrack expectedImprovement }
  readiness { ready reasons }
  splits { gap active }
  dyads { therapistId respondentRole responses phase discrepancy latest { instrument total }
    trend { slopePerSession declining }
    ruptures { instrument openedSession severity status target
               evidence { rule threshold inputs citation } }
    timeline { sessionNumber total normalized subscales { name score } } } } }"""
ALERTS_QUERY = """query($clinic: ID!, $after: String) {
  alerts(clinicId: $clinic, first: 2, after: $after) {
  edges { cursor node { alertId kind status sessionNumber evidence { rule threshold inputs }
                        history { action status } } }
  pageInfo { hasNextPage endCursor } } }"""

TIMELINE_QUERY = """query($clinic: ID!, $case: ID!, $all: Boolean!) {
  case(clinicId: $clinic, caseId: $case) { dyads { timeline(includeReplaced: $all) {
    responseId instrument sessionNumber total prorated proratedItems criticalItems
    clinicalRange { cutoff clinical ageBand normSet } status replacedBy } } } }"""

CASES_QUERY = """query($clinic: ID!, $after: String) { clinic(clinicId: $clinic) {
  cases(first: 2, after: $after) { edges { cursor node { caseId } }
  pageInfo { hasNextPage endCursor } } } }"""


def gateway(stack: Endpoints) -> Any:
    return create_app(GatewaySettings.model_validate({**stack.service_env("gateway"), **AUTH_ENV}))


async def gql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def seed_case(pg: asyncpg.Pool, clinic: str, case: str) -> CaseState:
    """Writes a folded case through scoring's own read-model writer."""
    events = [
        response(case, 1, "SRS", 38, clinic=clinic, therapist="th-9"),
        response(case, 2, "SRS", 33.2, clinic=clinic, therapist="th-9"),
        response(case, 1, "ORS", 18, clinic=clinic, therapist="th-9"),
        response(case, 2, "ORS", 26, clinic=clinic, therapist="th-9"),
    ]
    run = fold(events)
    scored = [score(e, e.recorded_at) for e in events if isinstance(e, ResponseSubmitted)]
    async with on_live_slots(pg, "scoring") as conn, conn.transaction():
        await save_cases(conn, [run.state], T0)
        await insert_scores(conn, scored)
    return run.state


async def seed_alert(pg: asyncpg.Pool, clinic: str, dyad_id: uuid.UUID, at: datetime) -> uuid.UUID:
    """Writes an alert through the alerts service's own writer."""
    alert = Alert(
        alert_id=uuid.uuid4(),
        clinic_id=clinic,
        case_id="case-x",
        kind=AlertKind.RUPTURE,
        subject=str(uuid.uuid4()),
        dyad=None,
        instrument="SRS",
        session_number=1,
        severity="low",
        priority=AlertPriority.URGENT,
        status=AlertStatus.OPEN,
        therapist_id="th-9",
        raised_at=at,
        source_event_id=uuid.uuid4(),
        summary="test",
        evidence=(
            RuleEvidence(rule="below_cutoff", inputs={"total": 30}, threshold=36, citation="test"),
        ),
    ).raised(Cause(at=at, key="seed"))
    async with on_live_slots(pg, "alerts") as conn:
        await save_alerts(conn, [alert])
    return alert.alert_id


async def test_case_is_read_with_its_dyads_and_only_in_its_clinic(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    await create_projection_tables(stack, "scoring")
    clinic, case = ids("clinic"), ids("case")
    await seed_case(pg, clinic, case)
    async with serving(gateway(stack)) as client:
        client.headers.update(bearer("supervisor", [clinic]))
        data = await gql(client, CASE_QUERY, clinic=clinic, case=case)
        other = await gql(client, CASE_QUERY, clinic=ids("other-clinic"), case=case)
        client.headers.update(bearer("supervisor", [ids("another-clinic")]))
        outsider = await gql(client, CASE_QUERY, clinic=clinic, case=case)
        del client.headers["Authorization"]
        anonymous = await client.post("/graphql", json={"query": "{ __typename }"})
    assert outsider["case"] is None  # another clinic's supervisor sees nothing
    assert anonymous.status_code == 401
    found = data["case"]
    assert (found["phase"], found["latestSession"]) == ("FOUNDATION", 2)
    assert found["episode"] == {"status": "open", "ending": None}
    [outcome] = found["outcomes"]
    assert outcome["instrument"] == "ORS"
    assert (outcome["baselineTotal"], outcome["latestTotal"]) == (18.0, 26.0)
    assert outcome["outcomeClass"] == "RECOVERED"
    assert not found["readiness"]["ready"]
    dyad = found["dyads"][0]
    assert dyad["respondentRole"] == "CLIENT"
    assert dyad["phase"] == "FOUNDATION"
    assert {"instrument": "SRS", "total": 33.2} in dyad["latest"]
    # Same session, same time: ordered by instrument (ORS, SRS).
    assert [p["total"] for p in dyad["timeline"] if p["sessionNumber"] == 2] == [26.0, 33.2]
    [rupture] = dyad["ruptures"]
    assert (rupture["instrument"], rupture["openedSession"], rupture["status"]) == (
        "SRS",
        2,
        "OPEN",
    )
    assert {e["rule"] for e in rupture["evidence"]} == {"below_cutoff", "drop_from_previous"}
    assert other["case"] is None


async def test_alert_pages_are_stable_under_inserts(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    await create_projection_tables(stack, "alerts")
    clinic = ids("clinic")
    dyad = uuid.uuid4()
    seeded = [await seed_alert(pg, clinic, dyad, T0 + timedelta(hours=h)) for h in range(5)]
    newest_first = [str(a) for a in reversed(seeded)]
    async with serving(gateway(stack)) as client:
        client.headers.update(bearer("supervisor", [clinic]))
        page1 = (await gql(client, ALERTS_QUERY, clinic=clinic))["alerts"]
        # A new alert arrives between page loads: it must not shift the following pages.
        await seed_alert(pg, clinic, dyad, T0 + timedelta(days=1))
        page2 = (
            await gql(client, ALERTS_QUERY, clinic=clinic, after=page1["pageInfo"]["endCursor"])
        )["alerts"]
        page3 = (
            await gql(client, ALERTS_QUERY, clinic=clinic, after=page2["pageInfo"]["endCursor"])
        )["alerts"]
        bad = (
            await client.post(
                "/graphql",
                json={"query": ALERTS_QUERY, "variables": {"clinic": clinic, "after": "bogus"}},
            )
        ).json()
        digest = await gql(
            client,
            """query($clinic: ID!, $day: Date!) {
                 digest(clinicId: $clinic, therapistId: "th-9", day: $day) {
                   raised { alertId } active { alertId } raisedByKind { kind count } } }""",
            clinic=clinic,
            day=T0.date().isoformat(),
        )
    assert len(digest["digest"]["raised"]) == 5  # the five of that day, not the next day's
    assert len(digest["digest"]["active"]) == 6
    assert digest["digest"]["raisedByKind"] == [{"kind": "RUPTURE", "count": 5}]
    seen = [e["node"]["alertId"] for p in (page1, page2, page3) for e in p["edges"]]
    assert seen == newest_first
    assert page1["pageInfo"]["hasNextPage"]
    assert page2["pageInfo"]["hasNextPage"]
    assert not page3["pageInfo"]["hasNextPage"]
    assert "after" in bad["errors"][0]["message"]


async def test_case_pages_follow_opaque_cursors(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    """Case lists page with the same opaque cursors as alerts; a raw case id is no cursor."""
    await create_projection_tables(stack, "scoring")
    clinic = ids("clinic")
    cases = [ids(f"case-{i}") for i in range(3)]  # in case-id order
    for case in cases:
        await seed_case(pg, clinic, case)
    async with serving(gateway(stack)) as client:
        client.headers.update(bearer("supervisor", [clinic]))
        page1 = (await gql(client, CASES_QUERY, clinic=clinic))["clinic"]["cases"]
        after = page1["pageInfo"]["endCursor"]
        page2 = (await gql(client, CASES_QUERY, clinic=clinic, after=after))["clinic"]["cases"]
        raw = (
            await client.post(
                "/graphql",
                json={"query": CASES_QUERY, "variables": {"clinic": clinic, "after": cases[1]}},
            )
        ).json()
    seen = [e["node"]["caseId"] for p in (page1, page2) for e in p["edges"]]
    assert seen == cases
    assert page1["pageInfo"]["hasNextPage"]
    assert not page2["pageInfo"]["hasNextPage"]
    assert after == page1["edges"][-1]["cursor"]
    assert not {e["cursor"] for p in (page1, page2) for e in p["edges"]} & set(cases)
    assert raw["data"] is None
    assert raw["errors"][0]["message"] == "after: not a cursor this API issued"


async def test_scores_show_proration_critical_items_their_clinical_range_and_versions(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    """Scored by scoring's own use case on the real read models: a prorated OQ-45.2 with a
    critical item endorsed, ORS judged with the age band each response had, an amended SRS."""
    await create_projection_tables(stack, "scoring")
    clinic, case = ids("clinic"), ids("case")
    oq_answers: dict[int, float | None] = dict.fromkeys(range(1, 46), 2.0)
    oq_answers.update(dict.fromkeys((11, 26, 32, 44), 0.0))  # critical items not endorsed ...
    oq_answers[3], oq_answers[8] = None, 1.0  # ... but item 8; item 3 left blank
    original = response(case, 1, "SRS", 30, clinic=clinic)
    first = [
        original,
        response(case, 1, "OQ-45.2", 0, clinic=clinic, answers=oq_answers),
        response(case, 1, "ORS", 26, clinic=clinic, age_group="adolescent"),
        response(case, 2, "ORS", 26, clinic=clinic, age_group="adult"),
    ]
    corrected = response(case, 1, "SRS", 36, clinic=clinic)
    at = original.recorded_at + timedelta(days=1)
    amendment = ResponseAmended(
        event_id=uuid.uuid4(),
        clinic_id=clinic,
        case_id=case,
        occurred_at=at,
        recorded_at=at,
        payload=ResponseAmendedPayload(
            amends=original.event_id,
            answers=corrected.payload.answers,
            reason="keyed from the wrong paper form",
            amended_by="admin-1",
        ),
    )
    async with slot_pool(stack, "scoring") as (pool, schema):
        uow = PostgresScoringUnitOfWork(pool, schema)
        assert await project_batch(uow, first, lambda: T0) == 4
        assert await project_batch(uow, [amendment], lambda: T0) == 1
    async with serving(gateway(stack)) as client:
        client.headers.update(bearer("supervisor", [clinic]))
        current = await gql(client, TIMELINE_QUERY, clinic=clinic, case=case, all=False)
        every = await gql(client, TIMELINE_QUERY, clinic=clinic, case=case, all=True)
    [dyad] = current["case"]["dyads"]
    by_place = {(s["instrument"], s["sessionNumber"]): s for s in dyad["timeline"]}
    assert sorted(by_place) == [("OQ-45.2", 1), ("ORS", 1), ("ORS", 2), ("SRS", 1)]
    oq = by_place[("OQ-45.2", 1)]
    assert (oq["prorated"], oq["proratedItems"], oq["criticalItems"]) == (True, [3], [8])
    assert oq["clinicalRange"] == {
        "cutoff": 63.0,
        "clinical": True,
        "ageBand": None,
        "normSet": "US",
    }
    # The same total judged with each response's band: adolescent (< 28), then adult (>= 25).
    assert by_place[("ORS", 1)]["clinicalRange"] == {
        "cutoff": 28.0,
        "clinical": True,
        "ageBand": "ADOLESCENT",
        "normSet": None,
    }
    assert by_place[("ORS", 2)]["clinicalRange"] == {
        "cutoff": 25.0,
        "clinical": False,
        "ageBand": "ADULT",
        "normSet": None,
    }
    srs = by_place[("SRS", 1)]
    assert (srs["prorated"], srs["proratedItems"], srs["criticalItems"]) == (False, [], [])
    assert srs["clinicalRange"] is None  # an alliance instrument has no clinical cut-off
    assert (srs["responseId"], srs["total"], srs["status"], srs["replacedBy"]) == (
        str(amendment.event_id),
        36.0,
        "CURRENT",
        None,
    )
    [every_dyad] = every["case"]["dyads"]
    versions = [s for s in every_dyad["timeline"] if s["instrument"] == "SRS"]
    assert [(s["responseId"], s["total"], s["status"], s["replacedBy"]) for s in versions] == [
        (str(original.event_id), 30.0, "AMENDED", str(amendment.event_id)),
        (str(amendment.event_id), 36.0, "CURRENT", None),
    ]
    assert [s for s in every_dyad["timeline"] if s["instrument"] != "SRS"] == [
        s for s in dyad["timeline"] if s["instrument"] != "SRS"
    ]


DEMOGRAPHICS_QUERY = """query($clinic: ID!, $case: ID!) { case(clinicId: $clinic, caseId: $case) {
  demographics { ageGroup oqNormSet effectiveFrom }
  dyads { timeline { instrument sessionNumber clinicalRange { cutoff ageBand normSet } } } } }"""


async def test_case_demographics_and_the_band_each_score_was_judged_with(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    """The band sent with the first ORS judges the second; a change effective at session 3
    (adult, Dutch OQ-45.2 norms) judges sessions 3 on and leaves 1 and 2 as judged."""
    await create_projection_tables(stack, "scoring")
    clinic, case = ids("clinic"), ids("case")
    oq_answers: dict[int, float | None] = dict.fromkeys(range(1, 46), 2.0)
    change = demographics(case, 3, age_group="adult", oq_norm_set="NL", clinic=clinic)
    history: list[CaseInput] = [
        response(case, 1, "ORS", 26, clinic=clinic, age_group="adolescent"),
        response(case, 2, "ORS", 26, clinic=clinic),
        change,
        response(case, 3, "ORS", 26, clinic=clinic),
        response(case, 3, "OQ-45.2", 0, clinic=clinic, answers=oq_answers),
    ]
    async with slot_pool(stack, "scoring") as (pool, schema):
        assert (
            await project_batch(PostgresScoringUnitOfWork(pool, schema), history, lambda: T0) == 5
        )
    async with serving(gateway(stack)) as client:
        client.headers.update(bearer("supervisor", [clinic]))
        data = await gql(client, DEMOGRAPHICS_QUERY, clinic=clinic, case=case)
    found = data["case"]
    assert found["demographics"] == {
        "ageGroup": "ADULT",
        "oqNormSet": "NL",
        "effectiveFrom": change.payload.effective_from.isoformat(),
    }
    [dyad] = found["dyads"]
    judged = {(s["instrument"], s["sessionNumber"]): s["clinicalRange"] for s in dyad["timeline"]}
    assert judged == {
        ("ORS", 1): {"cutoff": 28.0, "ageBand": "ADOLESCENT", "normSet": None},
        ("ORS", 2): {"cutoff": 28.0, "ageBand": "ADOLESCENT", "normSet": None},
        ("ORS", 3): {"cutoff": 25.0, "ageBand": "ADULT", "normSet": None},
        ("OQ-45.2", 3): {"cutoff": 56.0, "ageBand": None, "normSet": "NL"},
    }
