"""Refusals on the FHIR paths as `OperationOutcome`s (docs/fhir.md, decision 0028).

Every answer of the FHIR routes is `application/fhir+json`; so must be every refusal on their
paths, whichever layer gives it: the door (401, 429, 503: `http_security`), a scope or clinic
check (403), the body limit (413), FastAPI (404, 405, 422), a dependency down (503) or an
error (500). `FhirRefusals` is the one seam: outside all of them (`answer_fhir_refusals`), on
`/fhir` and under it, it answers each refusal that is not already FHIR as an OperationOutcome
with the same status and headers, built from the refusal's `detail` (the rule, never the value
sent). The JSON routes keep their `detail` shape.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alliance_contracts.fhir import FHIR_JSON, ISSUE_OF_STATUS, Issue, operation_outcome

FHIR_PREFIX = "/fhir"


def refusal_issues(status: int, detail: object) -> list[Issue]:
    """FastAPI's `detail` (a list of `{loc, msg, type}`, or a sentence) as issues of the
    status's type: the field and the rule in `diagnostics`; a search parameter (`query`) is
    the issue's `expression`, as FHIR servers name one."""
    code = ISSUE_OF_STATUS.get(status, "processing")
    if isinstance(detail, list) and detail and all(isinstance(d, dict) for d in detail):
        issues = []
        for entry in detail:
            loc = [str(part) for part in entry.get("loc") or []]
            field = ".".join(loc[1:])
            rule = str(entry.get("msg", ""))
            parameter = field if loc[:1] == ["query"] else ""
            issues.append(Issue(parameter, f"{field}: {rule}" if field else rule, code))
        return issues
    sentence = detail if isinstance(detail, str) and detail else HTTPStatus(status).phrase
    return [Issue("", sentence, code)]


def refusal_outcome(status: int, body: bytes) -> dict[str, Any]:
    """The OperationOutcome of a refusal's body (FastAPI's JSON `detail`, or plain text)."""
    try:
        detail = json.loads(body).get("detail") if body else None
    except (ValueError, AttributeError, UnicodeDecodeError):
        detail = body.decode(errors="replace").strip() or None
    return operation_outcome(refusal_issues(status, detail))


async def answer_outcome(
    send: Send, status: int, outcome: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> None:
    raw = json.dumps(outcome).encode()
    kept = [(k, v) for k, v in headers if k.lower() not in (b"content-type", b"content-length")]
    head = [
        *kept,
        (b"content-type", FHIR_JSON.encode()),
        (b"content-length", str(len(raw)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": raw})


def is_fhir_path(path: str) -> bool:
    return path == FHIR_PREFIX or path.startswith(f"{FHIR_PREFIX}/")


class FhirRefusals:
    """ASGI middleware: on the FHIR paths, a refusal (status >= 400) that is not
    `application/fhir+json` is answered as an OperationOutcome (same status and headers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_fhir_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        refusal: Message | None = None
        body = bytearray()

        async def sending(message: Message) -> None:
            nonlocal refusal
            if message["type"] == "http.response.start":
                content_type = Headers(raw=message.get("headers", [])).get("content-type", "")
                if message["status"] >= 400 and not content_type.startswith(FHIR_JSON):
                    refusal = message  # answered once its body is complete
                    return
            elif refusal is not None and message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    status = refusal["status"]
                    outcome = refusal_outcome(status, bytes(body))
                    await answer_outcome(send, status, outcome, refusal.get("headers", []))
                return
            await send(message)

        await self.app(scope, receive, sending)


def answer_fhir_refusals(app: FastAPI) -> None:
    """Puts FhirRefusals outside everything that answers: FastAPI builds its error layer (500)
    and its body limit (413, plain text) outside every middleware `add_middleware` adds, so
    this wraps the stack FastAPI builds rather than joining it."""
    build = app.build_middleware_stack

    def with_fhir_refusals() -> ASGIApp:
        return FhirRefusals(build())

    app.build_middleware_stack = with_fhir_refusals  # type: ignore[method-assign]
