"""Trusted documents: a registered operation is accepted by its hash alone; an unknown hash, a
text that does not match its hash, and (with ALLIANCE_GATEWAY_TRUSTED_DOCUMENTS_ONLY) any
document sent as text are refused, and nothing of them runs or is audited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from alliance_gateway.entrypoints.app import create_app
from alliance_gateway.graphql.trusted import MISMATCH, ONLY_TRUSTED, UNKNOWN, sha256
from alliance_gateway.settings import GatewaySettings
from tests.helpers import AUTH_ENV, bearer, create_projection_tables, serving
from tests.integration.test_gateway_reads import seed
from tests.stack import Endpoints

BENCH = Path(__file__).parents[2] / "bench" / "queries"


def persisted(key: str, **variables: str) -> dict[str, Any]:
    return {
        "variables": variables,
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": key}},
    }


async def test_trusted_documents_by_hash_and_refusals(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    await create_projection_tables(stack, "scoring")
    clinic, case = ids("clinic"), ids("case")
    await seed(pg, clinic, case)
    text = (BENCH / "case.graphql").read_text()
    key = sha256(text)
    arbitrary = "query Mine($c: ID!, $k: ID!) { case(clinicId: $c, caseId: $k) { caseId } }"
    env = {**stack.service_env("gateway"), **AUTH_ENV}
    answers: dict[str, Any] = {}
    for only in (False, True):
        app = create_app(
            GatewaySettings.model_validate(
                {**env, "ALLIANCE_GATEWAY_TRUSTED_DOCUMENTS_ONLY": str(only).lower()}
            )
        )
        async with serving(app) as client:
            client.headers.update(bearer("supervisor", [clinic], f"sv-trusted-{only}"))

            async def post(body: dict[str, Any]) -> Any:
                return (await client.post("/graphql", json=body)).json()

            answers[f"hash-{only}"] = await post(persisted(key, clinicId=clinic, caseId=case))
            answers[f"unknown-{only}"] = await post(persisted("0" * 64, clinicId=clinic))
            answers[f"mismatch-{only}"] = await post(
                {"query": arbitrary, **persisted(key, c=clinic, k=case)}
            )
            answers[f"same-text-{only}"] = await post(
                {"query": text, "variables": {"clinicId": clinic, "caseId": case}}
            )
            answers[f"text-{only}"] = await post(
                {"query": arbitrary, "variables": {"c": clinic, "k": case}}
            )
    for only in (False, True):
        found = answers[f"hash-{only}"]["data"]["case"]
        assert (found["caseId"], len(found["dyads"])) == (case, 3)
        for refused, message in (("unknown", UNKNOWN), ("mismatch", MISMATCH)):
            answer = answers[f"{refused}-{only}"]
            assert answer["data"] is None
            assert [e["message"] for e in answer["errors"]] == [message]
    # By hash, the same answer as by its text; by default any document runs.
    assert answers["same-text-False"] == answers["hash-False"]
    assert answers["text-False"]["data"]["case"]["caseId"] == case
    assert answers["text-True"]["data"] is None
    for refused in ("text-True", "same-text-True"):
        assert answers[refused]["data"] is None
        assert [e["message"] for e in answers[refused]["errors"]] == [ONLY_TRUSTED]
    # Refused operations read nothing: one audit record per accepted read only.
    audited = await pg.fetch(
        "SELECT subject, operation FROM gateway.read_audit WHERE clinic_id = $1 ORDER BY id",
        clinic,
    )
    assert [(r["subject"], r["operation"]) for r in audited] == [
        ("sv-trusted-False", "CaseWithDyads"),
        ("sv-trusted-False", "CaseWithDyads"),
        ("sv-trusted-False", "Mine"),
        ("sv-trusted-True", "CaseWithDyads"),
    ]
