"""Scores as FHIR Observations from the gateway on real PostgreSQL, read with a real FHIR client
(`fhirpy`) over HTTP with real tokens, every resource validated with `fhir.resources` (R4B):
values, subscales, interpretation, status after an amendment and a void, paging; a clinician
of another caseload or clinic gets nothing, and every read is audited (decision 0028)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome as OutcomeRaised
from fhirpy.base.exceptions import ResourceNotFound

from alliance_contracts.events import (
    ResponseAmended,
    ResponseAmendedPayload,
    ResponseScored,
    ResponseSubmitted,
)
from alliance_gateway.entrypoints.app import create_app
from alliance_gateway.settings import GatewaySettings
from alliance_scoring.adapters.store import correct_scores, insert_scores, save_cases
from alliance_scoring.domain import history
from alliance_scoring.domain.dyads import score
from alliance_scoring.domain.history import AmendedVersion, Correction
from tests.helpers import AUTH_ENV, bearer, create_projection_tables, on_a_socket, on_live_slots
from tests.integration.test_gateway import T0
from tests.stack import Endpoints
from tests.unit.clinical import fold, response

FHIR_JSON = "application/fhir+json"


def amended(original: ResponseSubmitted, answers: dict[int, float | None]) -> AmendedVersion:
    """The amendment's version of a response, as scoring folds it."""
    amendment = ResponseAmended(
        event_id=uuid.uuid4(),
        clinic_id=original.clinic_id,
        case_id=original.case_id,
        occurred_at=original.recorded_at,
        recorded_at=original.recorded_at,
        payload=ResponseAmendedPayload(
            amends=original.event_id, answers=answers, reason="keyed wrong", amended_by="ehr"
        ),
    )
    return history.amended(original, amendment)


async def seed(pg: asyncpg.Pool, clinic: str, case: str, therapist: str) -> dict[str, Any]:
    """A case with WAI-SR and ORS scores, through scoring's own writer: session 2's WAI-SR
    amended, session 2's ORS voided."""
    wai1 = response(
        case,
        1,
        "WAI-SR",
        0,
        clinic=clinic,
        therapist=therapist,
        answers={i: 4.0 if i % 3 else 3.0 for i in range(1, 13)},
    )
    ors1 = response(
        case,
        1,
        "ORS",
        0,
        clinic=clinic,
        therapist=therapist,
        answers={1: 4.1, 2: 5.3, 3: 4.4, 4: 3.9},
        age_group="adult",
    )
    wai2 = response(case, 2, "WAI-SR", 40, clinic=clinic, therapist=therapist)
    ors2 = response(case, 2, "ORS", 30, clinic=clinic, therapist=therapist, age_group="adult")
    wai2_fixed = amended(wai2, dict.fromkeys(range(1, 13), 5.0))
    void_id = uuid.uuid4()
    scored = {e.event_id: score(e, e.recorded_at) for e in (wai1, ors1, wai2, ors2, wai2_fixed)}
    async with on_live_slots(pg, "scoring") as conn:
        await save_cases(conn, [fold([wai1, ors1, wai2, ors2]).state], T0)
        await insert_scores(conn, list(scored.values()))
        await correct_scores(
            conn,
            [
                Correction(wai2.event_id, wai2_fixed.event_id, voided=False),
                Correction(ors2.event_id, void_id, voided=True),
            ],
        )
    return {"wai1": wai1, "ors1": ors1, "wai2": wai2, "ors2": ors2, "wai2_fixed": wai2_fixed,
            "scored": scored}  # fmt: skip


def client(base: str, headers: dict[str, str]) -> AsyncFHIRClient:
    return AsyncFHIRClient(f"{base}/fhir", authorization=headers["Authorization"])


async def search(fhir: AsyncFHIRClient, **params: Any) -> list[Observation]:
    """Every page (fhirpy follows the Bundles' next links), each resource validated."""
    found = await fhir.resources("Observation").search(**params).limit(2).fetch_all()
    return [Observation.model_validate(serialized(r)) for r in found]


async def test_scores_are_read_as_observations_with_a_fhir_client(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    await create_projection_tables(stack, "scoring")
    await create_projection_tables(stack, "alerts")  # caseloads: alerts.assignment
    clinic, case, therapist = ids("clinic"), ids("case"), ids("th")
    seeded = await seed(pg, clinic, case, therapist)
    scored: dict[uuid.UUID, ResponseScored] = seeded["scored"]
    supervisor_id = ids("sv")
    supervisor = bearer("supervisor", [clinic], supervisor_id)
    app = create_app(GatewaySettings.model_validate({**stack.service_env("gateway"), **AUTH_ENV}))
    async with on_a_socket(app) as base:
        fhir = client(base, supervisor)
        every = await search(fhir, subject=f"Patient/{case}")
        ors_only = await search(fhir, subject=f"Patient/{case}", code="ORS")
        second = await search(
            fhir, subject=case, date=[f"ge{seeded['wai2'].payload.administered_at.date()}"]
        )
        everyone = await search(fhir)  # no subject: every case the caller may read
        one = await fhir.reference("Observation", str(seeded["ors1"].event_id)).to_resource()
        with pytest.raises(ResourceNotFound):  # replaced by its amendment: not served
            await fhir.reference("Observation", str(seeded["wai2"].event_id)).to_resource()
        with pytest.raises(OutcomeRaised):
            await fhir.resources("Observation").search(patient=case).fetch()
        metadata = await fhir.execute("metadata", method="get")
        async with httpx.AsyncClient(base_url=base) as raw:
            bundle = await raw.get(
                "/fhir/Observation",
                params={"subject": f"Patient/{case}", "_count": "3"},
                headers=supervisor,
            )
            paged = await raw.get(bundle.json()["link"][1]["url"], headers=supervisor)
            unknown = await raw.get(
                "/fhir/Observation", params={"patient": case}, headers=supervisor
            )
            anonymous = await raw.get("/fhir/Observation")
            no_such_type = await raw.get("/fhir/Patient/x", headers=supervisor)
            wrong_method = await raw.delete("/fhir/Observation", headers=supervisor)
            browser = await raw.get("/fhir/Observation", headers={"accept": "text/html"})
        for other in (
            bearer("clinician", [clinic], ids("th-other")),
            bearer("supervisor", [ids("elsewhere")]),
        ):
            stranger = client(base, other)
            assert await search(stranger, subject=f"Patient/{case}") == []
            assert await search(stranger) == []
            with pytest.raises(ResourceNotFound):
                await stranger.reference("Observation", str(seeded["ors1"].event_id)).to_resource()
        own = await search(
            client(base, bearer("clinician", [clinic], therapist)), subject=f"Patient/{case}"
        )

    expected = [seeded[k].event_id for k in ("wai1", "ors1", "wai2_fixed", "ors2")]
    order = sorted(expected, key=lambda e: (scored[e].payload.administered_at, str(e)))
    assert [o.id for o in every] == [str(e) for e in order]
    assert [o.id for o in own] == [o.id for o in every]  # the therapist's own caseload
    assert [o.id for o in everyone] == [o.id for o in every]
    by_id = {o.id: o for o in every}
    # An amendment's score is derived from that version of the original response.
    derived_from = {e: f"QuestionnaireResponse/{e}" for e in expected} | {
        seeded["wai2_fixed"].event_id: (
            f"QuestionnaireResponse/{seeded['wai2'].event_id}"
            f"/_history/{seeded['wai2_fixed'].event_id}"
        )
    }
    for event_id in expected:
        served, payload = by_id[str(event_id)], scored[event_id].payload
        assert served.valueQuantity is not None
        assert served.subject is not None
        assert value(served.valueQuantity) == payload.total
        assert served.subject.reference == f"Patient/{case}"
        assert [c.code for c in served.code.coding or []] == [payload.instrument]
        assert [r.reference for r in served.derivedFrom or []] == [derived_from[event_id]]
        assert components_of(served) == {
            f"{payload.instrument}.{k}": v for k, v in payload.subscales.items()
        }
    status = {
        k: by_id[str(seeded[k].event_id)].status for k in ("wai1", "ors1", "wai2_fixed", "ors2")
    }
    assert status == {
        "wai1": "final",
        "ors1": "final",
        "wai2_fixed": "amended",
        "ors2": "entered-in-error",
    }
    assert components_of(by_id[str(seeded["wai2_fixed"].event_id)]) == {
        "WAI-SR.task": 20.0,
        "WAI-SR.bond": 20.0,
        "WAI-SR.goal": 20.0,
    }
    ors1 = by_id[str(seeded["ors1"].event_id)]
    assert value(ors1.valueQuantity) == 17.7
    assert [c.code for i in ors1.interpretation or [] for c in i.coding or []] == ["A"]
    assert by_id[str(seeded["wai1"].event_id)].interpretation is None
    assert [o.id for o in ors_only] == [str(seeded[k].event_id) for k in ("ors1", "ors2")]
    assert {o.id for o in second} == {str(seeded[k].event_id) for k in ("wai2_fixed", "ors2")}
    assert Observation.model_validate(serialized(one)).id == str(seeded["ors1"].event_id)
    statement = CapabilityStatement.model_validate(metadata)
    assert statement.fhirVersion == "4.0.1"

    assert bundle.status_code == 200
    assert bundle.headers["content-type"] == FHIR_JSON
    first_page, second_page = (
        Bundle.model_validate_json(bundle.content),
        Bundle.model_validate_json(paged.content),
    )
    assert (first_page.type, len(first_page.entry or []), len(second_page.entry or [])) == (
        "searchset",
        3,
        1,
    )
    assert [link.relation for link in second_page.link or []] == ["self"]  # the last page
    assert '"value":17.7,' in bundle.text  # exact tenths in the JSON itself
    for refused, status_code, code in (
        (unknown, 400, "not-supported"),
        (anonymous, 401, "login"),
        (browser, 401, "login"),
        (no_such_type, 404, "not-found"),  # answered by FhirRefusals, not by a route
        (wrong_method, 405, "not-supported"),
    ):
        assert refused.status_code == status_code
        assert refused.headers["content-type"] == FHIR_JSON
        outcome = OperationOutcome.model_validate_json(refused.content)
        assert [i.code for i in outcome.issue] == [code]
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert anonymous.json()["issue"][0]["diagnostics"].startswith("authorization: invalid")
    assert wrong_method.headers["allow"] == "GET"

    # Every read of client data is audited, in the read's own transaction: the supervisor's
    # searches and read name the case; the strangers read nothing and leave no record.
    records = await pg.fetch(
        "SELECT subject, case_ids, operation FROM gateway.read_audit WHERE clinic_id = $1",
        clinic,
    )
    operations = {r["operation"] for r in records}
    assert operations == {"FHIR Observation search", "FHIR Observation read"}
    assert all(r["case_ids"] == [case] for r in records)
    assert {r["subject"] for r in records} == {supervisor_id, therapist}


def serialized(resource: Any) -> dict[str, Any]:
    """A fhirpy resource as FHIR JSON (fhirpy is untyped)."""
    found: dict[str, Any] = resource.serialize()
    return found


def value(quantity: Any) -> float:
    assert quantity is not None
    return float(quantity.value)


def components_of(observation: Observation) -> dict[str, float]:
    return {
        (c.code.coding or [])[0].code or "": value(c.valueQuantity)
        for c in observation.component or []
    }
