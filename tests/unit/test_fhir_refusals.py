"""Refusals on the FHIR paths are OperationOutcomes whichever layer gives them, the JSON routes
keep FastAPI's `detail` (alliance_platform/fhir_refusals.py, decision 0028). The door, the body
limit and the routes' refusals on intake and the gateway: tests/integration/test_fhir.py and
test_fhir_observations.py; here what those cannot cause on demand: an error (500) and a
dependency down (503)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fhir.resources.R4B.operationoutcome import OperationOutcome

from alliance_contracts.fhir import FHIR_JSON
from alliance_platform.fhir_refusals import answer_fhir_refusals, refusal_issues
from alliance_platform.http_security import DEPENDENCY_DOWN, dependency_down


def app_that_fails() -> FastAPI:
    app = FastAPI()

    @app.get("/fhir/Broken")
    @app.get("/v1/broken")
    async def broken() -> None:
        raise RuntimeError("a bug, with a value that must not be shown: case-0042")

    @app.get("/fhir/Down")
    @app.get("/v1/down")
    async def down() -> None:
        raise ConnectionRefusedError("PostgreSQL at 10.0.0.7")

    async def answer_down(_: object, exc: Exception) -> object:
        return dependency_down(exc)

    for kind in DEPENDENCY_DOWN:
        app.add_exception_handler(kind, answer_down)  # type: ignore[arg-type]
    answer_fhir_refusals(app)
    return app


async def get(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app_that_fails(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


async def test_an_error_on_a_fhir_path_is_an_operation_outcome_without_its_details() -> None:
    fhir, plain = await get("/fhir/Broken"), await get("/v1/broken")
    assert (fhir.status_code, fhir.headers["content-type"]) == (500, FHIR_JSON)
    [issue] = OperationOutcome.model_validate_json(fhir.content).issue
    assert (issue.severity, issue.code, issue.diagnostics) == (
        "error",
        "exception",
        "Internal Server Error",
    )
    assert "case-0042" not in fhir.text
    assert (plain.status_code, plain.headers["content-type"]) == (500, "text/plain; charset=utf-8")


async def test_a_dependency_down_on_a_fhir_path_is_transient_and_keeps_retry_after() -> None:
    fhir, plain = await get("/fhir/Down"), await get("/v1/down")
    assert (fhir.status_code, fhir.headers["content-type"]) == (503, FHIR_JSON)
    assert fhir.headers["retry-after"] == plain.headers["retry-after"]
    [issue] = OperationOutcome.model_validate_json(fhir.content).issue
    assert (issue.code, issue.diagnostics) == ("transient", "the database unavailable, retry later")
    assert "10.0.0.7" not in fhir.text
    assert plain.json()["detail"][0]["type"] == "unavailable"


@pytest.mark.parametrize(
    ("status", "detail", "expected"),
    [
        (
            401,
            [{"loc": ["header", "authorization"], "msg": "invalid token", "type": "x"}],
            [("", "authorization: invalid token", "login")],
        ),
        (
            422,
            [{"loc": ["query", "url"], "msg": "too long", "type": "x"}],
            [("url", "url: too long", "invalid")],
        ),
        (404, "Not Found", [("", "Not Found", "not-found")]),
        (418, None, [("", "I'm a Teapot", "processing")]),
    ],
    ids=["door", "parameter", "sentence", "nothing"],
)
def test_a_refusals_detail_becomes_issues(
    status: int, detail: object, expected: list[tuple[str, str, str]]
) -> None:
    issues = refusal_issues(status, detail)
    assert [(i.expression, i.diagnostics, i.code) for i in issues] == expected
