"""The authorisation matrix: every query (and the nested client-level fields) x every role x
own or other clinic (and, for clinicians, own caseload or not). Nothing may leak."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from alliance_alerts.adapters.store import save_alerts
from alliance_alerts.domain.rules import Alert, Cause
from alliance_contracts.events import ResponseSubmitted, RuleEvidence
from alliance_contracts.vocabulary import AlertKind, AlertPriority, AlertStatus
from alliance_gateway.entrypoints.app import create_app
from alliance_gateway.settings import GatewaySettings
from alliance_scoring.adapters.store import insert_scores, insert_signals, save_cases
from alliance_scoring.domain.dyads import score
from tests.helpers import AUTH_ENV, bearer, create_projection_tables, on_live_slots, serving
from tests.stack import Endpoints
from tests.unit.clinical import T0, fold, response

QUERIES: dict[str, str] = {
    "case": """query($clinic: ID!, $case: ID!) { case(clinicId: $clinic, caseId: $case) {
        caseId outcomes { outcomeClass } readiness { ready }
        dyads { dyadId timeline { total } ruptures { status } }
        signals { kind evidence { rule } } } }""",
    "alerts": """query($clinic: ID!) { alerts(clinicId: $clinic) {
        edges { node { alertId caseId history { action } } } } }""",
    "digest": """query($clinic: ID!, $therapist: ID!) { digest(clinicId: $clinic,
        therapistId: $therapist, day: "2026-01-12") { raised { caseId } active { caseId } } }""",
    "clinicSummary": """query($clinic: ID!) { clinicSummary(clinicId: $clinic,
        since: "2025-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z") {
        casesByPhase { key count } rupturesOpened } }""",
    "network": """{ network { clinics { clinicId casesByPhase { key count } } } }""",
    "auditTrail": """query($clinic: ID!) { auditTrail(clinicId: $clinic) { subject caseIds } }""",
    "clinicCases": """query($clinic: ID!) { clinic(clinicId: $clinic) { cases(first: 5) {
        edges { node { caseId dyads { dyadId timeline { total } }
        activeAlerts { alertId caseId } } } } } }""",
    "caseload": """query($clinic: ID!, $therapist: ID!) { therapist(clinicId: $clinic,
        therapistId: $therapist) { caseload { edges { node { caseId } } } } }""",
    "acknowledgeAlert": """mutation($alert: ID!, $id: String!) { acknowledgeAlert(
        input: {alertId: $alert, clientMutationId: $id}) { commandId } }""",
}


async def seed(pg: asyncpg.Pool, clinic: str, case: str, therapist: str) -> uuid.UUID:
    """A case rated by `therapist` with an SRS drop (signals) and an alert for it."""
    events = [
        response(case, s, "SRS", t, clinic=clinic, therapist=therapist)
        for s, t in ((1, 38), (2, 30))
    ]
    run = fold(events)
    alert = Alert(
        alert_id=uuid.uuid4(),
        clinic_id=clinic,
        case_id=case,
        kind=AlertKind.RUPTURE,
        subject="s",
        dyad=None,
        instrument="SRS",
        session_number=2,
        severity="low",
        priority=AlertPriority.URGENT,
        status=AlertStatus.OPEN,
        therapist_id=therapist,
        raised_at=T0 + timedelta(weeks=1),
        source_event_id=uuid.uuid4(),
        summary="test",
        evidence=(RuleEvidence(rule="below_cutoff", inputs={}, threshold=36, citation="t"),),
    ).raised(Cause(at=T0 + timedelta(weeks=1), key="seed"))
    async with on_live_slots(pg, "scoring", "alerts") as conn, conn.transaction():
        await save_cases(conn, [run.state], T0)
        await insert_scores(
            conn, [score(e, T0) for e in events if isinstance(e, ResponseSubmitted)]
        )
        await insert_signals(conn, run.signals, {})
        await save_alerts(conn, [alert])
    return alert.alert_id


def visible(role: str, clinics: list[str], target: str, in_caseload: bool, op: str) -> bool:
    """What the rules say (alliance_contracts/access.py), written out independently for the test."""
    own = target in clinics
    if op in ("clinicSummary", "network"):
        return role == "network_admin" or (role in ("supervisor", "clinic_admin") and own)
    if op == "auditTrail":
        return role == "clinic_admin" and own
    if op == "clinicCases":  # the clinic's list: the cases the caller may see, never others
        return own
    if op == "acknowledgeAlert":
        return own and role != "network_admin" and (role != "clinician" or in_caseload)
    return own and (role != "clinician" or in_caseload)


def leaked(op: str, data: dict[str, Any] | None, target: str, target_case: str) -> bool:
    """Did the response carry any of the target's client-level data?"""
    if data is None:
        return False
    text = str(data)
    if op == "network":
        return any(c["clinicId"] == target for c in data["network"]["clinics"])
    if op == "clinicSummary":
        return bool(data.get("clinicSummary"))
    return target_case in text or (op == "acknowledgeAlert" and bool(data.get(op)))


@pytest.fixture
async def world(stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]) -> dict[str, Any]:
    await create_projection_tables(stack, "scoring")
    await create_projection_tables(stack, "alerts")
    a, b = ids("clinic-a"), ids("clinic-b")
    cases = {
        "mine": (a, ids("case-mine"), "th-a"),
        "colleague": (a, ids("case-col"), "th-z"),
        "other": (b, ids("case-other"), "th-b"),
    }
    alerts = {k: await seed(pg, *v) for k, v in cases.items()}
    return {"a": a, "b": b, "cases": cases, "alerts": alerts}


async def test_authorisation_matrix_has_no_leaks(stack: Endpoints, world: dict[str, Any]) -> None:
    a, b = world["a"], world["b"]
    callers = [
        ("clinician", [a], "th-a"),
        ("supervisor", [a], "sup-a"),
        ("clinic_admin", [a], "adm-a"),
        ("network_admin", [], "net"),
        ("network_admin", [a], "net-a"),
    ]
    app = create_app(GatewaySettings.model_validate({**stack.service_env("gateway"), **AUTH_ENV}))
    combos, leaks, denials_ok = 0, [], 0
    async with serving(app) as client:
        # Reads leave audit records for the audit-trail queries to find.
        client.headers.update(bearer("supervisor", [a, b], "warmup"))
        for clinic, case, _ in world["cases"].values():
            await client.post(
                "/graphql",
                json={"query": QUERIES["case"], "variables": {"clinic": clinic, "case": case}},
            )
        for (role, clinics, subject), (key, (clinic, case, therapist)), op in itertools.product(
            callers, world["cases"].items(), QUERIES
        ):
            combos += 1
            client.headers.update(bearer(role, clinics, subject))
            variables = {
                "clinic": clinic,
                "case": case,
                "therapist": therapist,
                "alert": str(world["alerts"][key]),
                "id": f"cmd-{uuid.uuid4()}",
            }
            r = await client.post("/graphql", json={"query": QUERIES[op], "variables": variables})
            assert r.status_code == 200, r.text
            body = r.json()
            data, errors = body.get("data"), body.get("errors") or []
            expect = visible(role, clinics, clinic, in_caseload=(therapist == subject), op=op)
            if not expect:
                if leaked(op, data, clinic, case):
                    leaks.append((role, clinics, key, op, body))
                for e in errors:  # denials say nothing about what exists
                    assert e["message"] in ("not found or not allowed",) or op in (
                        "acknowledgeAlert",
                    ), e
                denials_ok += 1
            else:
                assert not errors, (role, key, op, errors)
                assert data is not None
    assert leaks == []
    assert combos == len(callers) * len(world["cases"]) * len(QUERIES) == 135
    assert denials_ok > 40


async def test_reads_of_client_data_are_audited_append_only(
    stack: Endpoints, pg: asyncpg.Pool, world: dict[str, Any]
) -> None:
    a = world["a"]
    clinic, case, _ = world["cases"]["mine"]
    app = create_app(GatewaySettings.model_validate({**stack.service_env("gateway"), **AUTH_ENV}))
    async with serving(app) as client:
        client.headers.update(bearer("clinician", [a], "th-a"))
        r = await client.post(
            "/graphql",
            json={"query": QUERIES["case"], "variables": {"clinic": clinic, "case": case}},
        )
        assert r.json()["data"]["case"]["caseId"] == case
        client.headers.update(bearer("clinic_admin", [a], "adm-a"))
        trail = (
            await client.post(
                "/graphql", json={"query": QUERIES["auditTrail"], "variables": {"clinic": a}}
            )
        ).json()
    assert any(t["subject"] == "th-a" and case in t["caseIds"] for t in trail["data"]["auditTrail"])
    row = await pg.fetchrow(
        "SELECT * FROM gateway.read_audit WHERE subject = 'th-a' "
        "AND $1 = ANY(case_ids) ORDER BY id DESC LIMIT 1",
        case,
    )
    assert row is not None
    assert row["role"] == "clinician"
    assert row["address"] == "127.0.0.1"
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pg.execute("DELETE FROM gateway.read_audit WHERE id = $1", row["id"])
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pg.execute("UPDATE gateway.read_audit SET subject = 'x' WHERE id = $1", row["id"])


async def test_limits_and_masking(stack: Endpoints, world: dict[str, Any]) -> None:
    a = world["a"]
    app = create_app(
        GatewaySettings.model_validate(
            {**stack.service_env("gateway"), **AUTH_ENV, "ALLIANCE_MAX_QUERY_COST": "500"}
        )
    )
    async with serving(app) as client:
        client.headers.update(bearer("supervisor", [a]))

        async def ask(query: str) -> dict[str, Any]:
            return (await client.post("/graphql", json={"query": query})).json()  # type: ignore[no-any-return]

        costly = await ask(
            f'{{ alerts(clinicId: "{a}", first: 200) {{ edges {{ node {{ '
            "history { at } evidence { rule } } } } }"
        )
        deep = await ask(
            "{ __schema { types { fields { type { fields { type { fields { type { "
            "fields { type { name } } } } } } } } } } }"
        )
        aliases = await ask("{ " + " ".join(f"a{i}: __typename" for i in range(40)) + " }")
        bad_page = await ask(f'{{ alerts(clinicId: "{a}", first: 0) {{ edges {{ cursor }} }} }}')
    assert "exceeds the limit of 500" in costly["errors"][0]["message"]
    assert "depth" in deep["errors"][0]["message"].lower()
    assert "aliases" in aliases["errors"][0]["message"]
    assert bad_page["errors"][0]["message"] == "first: must be between 1 and 200"


async def test_nested_lists_run_a_fixed_number_of_statements(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    """No N+1: a case with many dyads costs as many SQL statements as a case with one."""
    from sqlalchemy import event

    await create_projection_tables(stack, "scoring")
    await create_projection_tables(stack, "alerts")
    clinic = ids("clinic")
    small, large = ids("case-small"), ids("case-large")
    for case, parents in ((small, 0), (large, 6)):
        events = [response(case, 1, "SRS", 38, clinic=clinic)] + [
            response(case, 1, "SRS", 36, clinic=clinic, role="parent", respondent_id=f"p{i}")
            for i in range(parents)
        ]
        async with on_live_slots(pg, "scoring") as conn:
            await save_cases(conn, [fold(events).state], T0)
            await insert_scores(
                conn, [score(e, T0) for e in events if isinstance(e, ResponseSubmitted)]
            )
    app = create_app(GatewaySettings.model_validate({**stack.service_env("gateway"), **AUTH_ENV}))
    statements: list[str] = []
    event.listen(
        app.state.engine.sync_engine,
        "before_cursor_execute",
        lambda *args: statements.append(args[2]),
    )
    counts = {}
    async with serving(app) as client:
        client.headers.update(bearer("supervisor", [clinic]))
        for case in (small, large):
            statements.clear()
            r = await client.post(
                "/graphql",
                json={"query": QUERIES["case"], "variables": {"clinic": clinic, "case": case}},
            )
            assert len(r.json()["data"]["case"]["dyads"]) == (1 if case == small else 7)
            counts[case] = len([s for s in statements if s.lstrip().upper().startswith("SELECT")])
            statements.clear()
        r = await client.post(
            "/graphql", json={"query": QUERIES["clinicCases"], "variables": {"clinic": clinic}}
        )
        edges = r.json()["data"]["clinic"]["cases"]["edges"]
        page_statements = len([s for s in statements if s.lstrip().upper().startswith("SELECT")])
    # The case with its dyads and their timelines (one statement), and its signals.
    assert counts[small] == counts[large] == 2
    assert len(edges) == 2
    # The page, its cases' dyads, their timelines, their active alerts: one query each.
    assert page_statements == 4


async def test_mutations_are_idempotent_and_stay_in_their_clinic(
    stack: Endpoints, world: dict[str, Any]
) -> None:
    a = world["a"]
    _, other_case, _ = world["cases"]["other"]
    app = create_app(GatewaySettings.model_validate({**stack.service_env("gateway"), **AUTH_ENV}))
    resolve = """mutation($alert: ID!, $note: String) { resolveAlert(input: {alertId: $alert,
        clientMutationId: "resolve-0001", note: $note}) { commandId duplicate } }"""
    assign = """mutation($clinic: ID!, $case: ID!) { assignCase(input: {clinicId: $clinic,
        caseId: $case, therapistId: "th-a", clientMutationId: "assign-0001"}) { commandId } }"""
    async with serving(app) as client:
        client.headers.update(bearer("supervisor", [a], f"sup-{a}"))  # ids remembered per subject

        async def run(query: str, **variables: Any) -> dict[str, Any]:
            r = await client.post("/graphql", json={"query": query, "variables": variables})
            return r.json()  # type: ignore[no-any-return]

        alert = str(world["alerts"]["mine"])
        first = await run(resolve, alert=alert, note="talked it through")
        again = await run(resolve, alert=alert, note="talked it through")
        other = await run(resolve, alert=alert, note="something else")
        no_note = await run(resolve, alert=alert)
        foreign = await run(assign, clinic=a, case=other_case)
        ide = await client.get("/graphql", headers={"accept": "text/html", "Authorization": ""})
    assert first.get("data"), first
    assert first["data"]["resolveAlert"]["duplicate"] is False
    assert again["data"]["resolveAlert"] == {**first["data"]["resolveAlert"], "duplicate": True}
    assert other["errors"][0]["message"] == "clientMutationId: was already used for another command"
    assert no_note["errors"][0]["message"] == "note: a resolution needs a note"
    assert foreign["errors"][0]["message"] == "caseId: no such case in this clinic"
    assert ide.status_code == 200
    assert "graphiql" in ide.text.lower()


async def test_a_caseload_is_a_set_of_clinic_and_case_pairs(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    """Case ids are unique only within a clinic: a clinician of two clinics who rates case X in
    one does not see another clinic's case X."""
    await create_projection_tables(stack, "scoring")
    await create_projection_tables(stack, "alerts")
    a, b, case = ids("clinic-a"), ids("clinic-b"), ids("case-same-id")
    await seed(pg, a, case, "th-a")
    await seed(pg, b, case, "th-b")
    app = create_app(GatewaySettings.model_validate({**stack.service_env("gateway"), **AUTH_ENV}))
    async with serving(app) as client:
        client.headers.update(bearer("clinician", [a, b], "th-a"))
        found = {}
        for clinic in (a, b):
            r = await client.post(
                "/graphql",
                json={"query": QUERIES["case"], "variables": {"clinic": clinic, "case": case}},
            )
            found[clinic] = r.json()["data"]["case"]
    assert found[a] is not None
    assert found[b] is None


async def test_only_a_clinic_admin_of_the_clinic_may_correct_a_response(
    stack: Endpoints, world: dict[str, Any]
) -> None:
    """amendResponse and voidResponse: clinic admins of the response's clinic alone; the
    arguments are checked before anything is accepted, each error naming its field."""
    a = world["a"]
    _, case, _ = world["cases"]["mine"]
    _, other_case, _ = world["cases"]["other"]
    response = "6f1e3c0a-5b8e-4d6e-9a51-3e0c2d7a9b10"
    void = """mutation($clinic: ID!, $case: ID!, $response: ID!, $reason: String!) {
        voidResponse(input: {clinicId: $clinic, caseId: $case, responseId: $response,
        reason: $reason, clientMutationId: "void-0001"}) { commandId duplicate } }"""
    amend = """mutation($clinic: ID!, $case: ID!, $answers: [ItemAnswerInput!]!) {
        amendResponse(input: {clinicId: $clinic, caseId: $case, responseId: "%s",
        answers: $answers, reason: "typo", clientMutationId: "amend-0001"}) { commandId } }"""
    amend = amend % response
    app = create_app(GatewaySettings.model_validate({**stack.service_env("gateway"), **AUTH_ENV}))
    messages: dict[str, str] = {}
    async with serving(app) as client:

        async def run(who: dict[str, str], query: str, **variables: Any) -> dict[str, Any]:
            r = await client.post(
                "/graphql", json={"query": query, "variables": variables}, headers=who
            )
            return r.json()  # type: ignore[no-any-return]

        admin = bearer("clinic_admin", [a], f"admin-{a}")
        for role in ("clinician", "supervisor", "network_admin"):
            refused = await run(
                bearer(role, [a], f"{role}-{a}"), void, clinic=a, case=case,
                response=response, reason="wrong client",
            )  # fmt: skip
            messages[role] = refused["errors"][0]["message"]
        other_clinic = await run(
            admin, void, clinic=world["b"], case=other_case, response=response, reason="x"
        )
        messages["admin of another clinic"] = other_clinic["errors"][0]["message"]
        blank = await run(admin, void, clinic=a, case=case, response=response, reason="  ")
        not_an_id = await run(admin, void, clinic=a, case=case, response="score-1", reason="x")
        twice = await run(
            admin, amend, clinic=a, case=case,
            answers=[{"item": 1, "value": 9}, {"item": 1, "value": 8}],
        )  # fmt: skip
        item_zero = await run(admin, amend, clinic=a, case=case, answers=[{"item": 0, "value": 9}])
        accepted = await run(admin, void, clinic=a, case=case, response=response, reason="x")
    refusal = "clinicId: amending or voiding responses needs a clinic admin of it"
    assert messages == dict.fromkeys(messages, refusal)
    assert len(messages) == 4
    assert blank["errors"][0]["message"] == "reason: must not be empty"
    assert not_an_id["errors"][0]["message"].startswith("responseId: not a response id")
    assert twice["errors"][0]["message"] == "answers: item 1 is given twice"
    assert item_zero["errors"][0]["message"].startswith("answers: ")
    assert accepted.get("data"), accepted  # intake checks the response itself
    assert accepted["data"]["voidResponse"]["duplicate"] is False


FHIR_DOORS = ("search by subject", "search", "read")


async def test_fhir_observations_follow_the_same_matrix(
    stack: Endpoints, pg: asyncpg.Pool, world: dict[str, Any]
) -> None:
    """`/fhir/Observation` (search with and without a subject, read by id) x every role x own
    or other clinic and caseload: what GraphQL's `case` may show, and nothing else (a search
    without the case's scores, a read 404)."""
    a = world["a"]
    callers = [
        ("clinician", [a], "th-a"),
        ("supervisor", [a], "sup-a"),
        ("clinic_admin", [a], "adm-a"),
        ("network_admin", [], "net"),
        ("network_admin", [a], "net-a"),
    ]
    scores = {
        key: str(
            await pg.fetchval(
                "SELECT s.source_event_id FROM scoring.dyad_score s JOIN scoring.dyad d "
                "USING (dyad_id) WHERE d.clinic_id = $1 AND d.case_id = $2 LIMIT 1",
                clinic,
                case,
            )
        )
        for key, (clinic, case, _) in world["cases"].items()
    }
    app = create_app(GatewaySettings.model_validate({**stack.service_env("gateway"), **AUTH_ENV}))
    combos, leaks, shown = 0, [], 0
    async with serving(app) as client:
        for (role, clinics, subject), (key, (clinic, case, therapist)), door in itertools.product(
            callers, world["cases"].items(), FHIR_DOORS
        ):
            combos += 1
            client.headers.update(bearer(role, clinics, subject))
            if door == "read":
                r = await client.get(f"/fhir/Observation/{scores[key]}")
            else:
                params = {"subject": f"Patient/{case}"} if door == "search by subject" else {}
                r = await client.get("/fhir/Observation", params=params)
            assert r.headers["content-type"] == "application/fhir+json"
            expect = visible(role, clinics, clinic, in_caseload=(therapist == subject), op="case")
            found = scores[key] in r.text
            if expect:
                assert r.status_code == 200, (role, key, door, r.text)
                assert found, (role, key, door)
                shown += 1
            else:
                assert r.status_code == (404 if door == "read" else 200), r.text
                entries = str(r.json().get("entry", []))  # not the self link, which echoes it
                if found or case in entries:
                    leaks.append((role, clinics, key, door))
    assert leaks == []
    assert combos == len(callers) * len(world["cases"]) * len(FHIR_DOORS) == 45
    assert shown == 3 * (1 + 2 + 2 + 0 + 2)  # clinician: own caseload; others: clinic a
