"""The intake authorisation matrix on real PostgreSQL: every endpoint, every kind of token, the
own clinic and another clinic. Allowed writes are stored; every other combination is refused
(401 without a valid token, 403 naming the clinic or the scope otherwise) and writes nothing.
The routes of one response (amend, void, read its history) get a response of their own first."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from alliance_contracts.access import Scope
from alliance_contracts.fhir import CLINIC_EXTENSION, FHIR_JSON
from alliance_intake.entrypoints.http import create_app
from alliance_intake.settings import IntakeSettings
from tests.helpers import (
    AUTH_ENV,
    ISSUER,
    bearer,
    clinic_system,
    questionnaire_response,
    response_body,
    serving,
    transaction,
)
from tests.stack import Endpoints

RW, ADMIN = Scope.RESPONSES_WRITE, Scope.CLINIC_ADMIN


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    needs: Scope | None  # None: any valid token (counts only)
    writes: bool
    corrects: bool = False  # a route of one response: it is submitted first

    def seed_key(self, n: int) -> str:
        return f"matrix-seed-{n:04d}"

    def request(self, clinic: str, n: int) -> tuple[str, str, dict[str, Any] | None]:
        key = f"matrix-{self.name}-{n:04d}"
        case = f"case-{n:04d}"
        if self.name == "response":
            return "POST", "/v1/responses", response_body(clinic, case, 1, 9, key=key)
        if self.name == "ending":
            body = {
                "clinic_id": clinic, "case_id": case, "therapist_id": "th-1",
                "ending": "planned", "ended_at": "2026-01-10T10:00:00Z",
                "last_session_number": 4, "idempotency_key": key,
            }  # fmt: skip
            return "POST", "/v1/episode-endings", body
        if self.name == "configuration":
            change = {"overrides": {"split_gap": {"value": 0.25}}, "idempotency_key": key}
            return "PATCH", f"/v1/clinics/{clinic}/configuration", change
        if self.name == "read-configuration":
            return "GET", f"/v1/clinics/{clinic}/configuration", None
        if self.name == "staff":
            body = {"role": "supervisor", "idempotency_key": key}
            return "PUT", f"/v1/clinics/{clinic}/staff/sup-{n:04d}", body
        response = f"/v1/clinics/{clinic}/responses/{self.seed_key(n)}"
        if self.name == "amend":
            body = {"answers": {"1": 9, "2": 9, "3": 8, "4": 9}, "reason": f"matrix {n}"}
            return "PUT", response, body
        if self.name == "void":
            return "DELETE", response, {"reason": f"matrix {n}"}
        if self.name == "read-response":
            return "GET", response, None
        if self.name == "assignment":
            body = {"therapist_id": "th-2", "idempotency_key": key}
            return "PUT", f"/v1/clinics/{clinic}/cases/{case}/assignment", body
        if self.name == "demographics":
            body = {
                "age_group": "adolescent",
                "effective_from": "2026-01-05T15:00:00Z",
                "idempotency_key": key,
            }
            return "PUT", f"/v1/clinics/{clinic}/cases/{case}/demographics", body
        if self.name == "questionnaires":
            return "GET", "/fhir/Questionnaire", None
        if self.name == "fhir-response":
            return "POST", "/fhir/QuestionnaireResponse", fhir_response(clinic, case, key)
        if self.name == "fhir-transaction":
            return "POST", "/fhir", transaction(fhir_response(clinic, case, key))
        return "GET", "/v1/outbox", None


ENDPOINTS = (
    Endpoint("response", "POST", RW, True),
    Endpoint("ending", "POST", RW, True),
    Endpoint("configuration", "PATCH", ADMIN, True),
    Endpoint("read-configuration", "GET", ADMIN, False),
    Endpoint("staff", "PUT", ADMIN, True),
    Endpoint("assignment", "PUT", ADMIN, True),
    Endpoint("demographics", "PUT", ADMIN, True),
    Endpoint("outbox", "GET", None, False),
    Endpoint("questionnaires", "GET", None, False),  # no client data (docs/fhir.md)
    Endpoint("fhir-response", "POST", RW, True),
    Endpoint("fhir-transaction", "POST", RW, True),
    Endpoint("amend", "PUT", RW, True, corrects=True),
    Endpoint("void", "DELETE", RW, True, corrects=True),
    Endpoint("read-response", "GET", RW, False, corrects=True),
)


def fhir_response(clinic: str, case: str, key: str) -> dict[str, Any]:
    """An SRS QuestionnaireResponse naming its clinic (the token's may differ: refused)."""
    resource = questionnaire_response(case, 1, 9.0, key=key)
    resource["extension"].append({"url": CLINIC_EXTENSION, "valueString": clinic})
    return resource


def tokens(own: str) -> dict[str, tuple[dict[str, str], Callable[[Endpoint, bool], bool]]]:
    """Each kind of caller, scoped to the own clinic, with whether it may use an endpoint (for
    the own clinic: True, another: False)."""

    def scoped(*scopes: Scope) -> Callable[[Endpoint, bool], bool]:
        return lambda e, mine: e.needs is None or (mine and e.needs in scopes)

    def person(role: str) -> Callable[[Endpoint, bool], bool]:
        return lambda e, mine: (
            e.needs is None or (mine and role == "clinic_admin" and e.needs is ADMIN)
        )

    never: Callable[[Endpoint, bool], bool] = lambda e, mine: False  # noqa: E731
    unknown_scope = {"sub": "ehr-2", "scope": "other:thing", "clinics": [own]}
    return {
        "none": ({}, never),
        "garbage": ({"Authorization": "Bearer not-a-jwt"}, never),
        "machine responses:write": (clinic_system([own], (RW,)), scoped(RW)),
        "machine clinic:admin": (clinic_system([own], (ADMIN,)), scoped(ADMIN)),
        "machine both": (clinic_system([own], (RW, ADMIN)), scoped(RW, ADMIN)),
        "machine no scope": (
            {"Authorization": f"Bearer {ISSUER.sign(unknown_scope)}"},
            lambda e, mine: e.needs is None,
        ),
        **{role: (bearer(role, [own], f"{role}-1"), person(role)) for role in
           ("clinician", "supervisor", "clinic_admin", "network_admin")},
    }  # fmt: skip


async def test_every_endpoint_token_and_clinic(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    own, other = ids("own-clinic"), ids("other-clinic")
    settings = IntakeSettings.model_validate({**stack.service_env("intake"), **AUTH_ENV})
    expected_writes = {own: 0, other: 0}
    expected_corrections = {own: 0, other: 0}
    seeds = {own: 0, other: 0}
    seeder = clinic_system([own, other], (RW,), "ehr-seeder")
    results: list[tuple[str, str, str, int, bool]] = []
    n = itertools.count()
    async with serving(create_app(settings)) as client:
        for (kind, (headers, may)), endpoint, clinic in itertools.product(
            tokens(own).items(), ENDPOINTS, (own, other)
        ):
            number = next(n)
            if endpoint.corrects:
                seed = response_body(
                    clinic, f"case-{number:04d}", 1, 9, key=endpoint.seed_key(number)
                )
                assert (
                    await client.post("/v1/responses", json=seed, headers=seeder)
                ).status_code == 202
                seeds[clinic] += 1
            method, path, body = endpoint.request(clinic, number)
            r = await client.request(method, path, json=body, headers=headers)
            allowed = may(endpoint, clinic == own)
            results.append((kind, endpoint.name, clinic, r.status_code, allowed))
            if allowed and endpoint.writes:
                written = expected_corrections if endpoint.corrects else expected_writes
                written[clinic] += 1
            check(kind, endpoint, clinic == own, allowed, r)

    assert len(results) == 10 * 14 * 2  # 280 combinations: callers x endpoints x clinics
    for clinic, expected in expected_writes.items():
        # Every accepted write, configuration changes included, is one submission; every
        # amendment or void one correction.
        stored = await pg.fetchval(
            "SELECT count(*) FROM intake.submission WHERE clinic_id = $1", clinic
        )
        assert stored == expected + seeds[clinic], (clinic, stored, expected)
        corrections = await pg.fetchval(
            "SELECT count(*) FROM intake.response_correction c JOIN intake.submission s "
            "ON s.event_id = c.response_id WHERE s.clinic_id = $1",
            clinic,
        )
        assert corrections == expected_corrections[clinic], (clinic, corrections)
    assert expected_writes[other] == expected_corrections[other] == 0
    assert expected_writes[own] == 4 + 4 + 8 + 4  # rw, admin, both, a clinic admin
    assert expected_corrections[own] == 2 + 2  # rw, both (people correct through the gateway)


def check(kind: str, endpoint: Endpoint, mine: bool, allowed: bool, r: httpx.Response) -> None:
    where = f"{kind} {endpoint.name} {'own' if mine else 'other'}: {r.status_code} {r.text}"
    if allowed:
        assert r.status_code in (200, 201, 202), where
    elif kind in ("none", "garbage"):
        assert r.status_code == 401, where
        assert r.headers["www-authenticate"].startswith("Bearer"), where
    else:
        assert r.status_code == 403, where
        if endpoint.name.startswith("fhir"):  # an OperationOutcome on the FHIR paths
            assert r.headers["content-type"] == FHIR_JSON, where
            [issue] = r.json()["issue"]
            assert issue["code"] == "forbidden", where
            msg = issue["diagnostics"]
        else:
            msg = r.json()["detail"][0]["msg"]
        assert ("clinic" in msg) if not mine else ("scope" in msg), where
