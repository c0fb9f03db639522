"""FHIR R4 on the gateway: scores as `Observation`s (search and read) and the
`CapabilityStatement` (docs/fhir.md, decision 0028).

Beside GraphQL, through the same door (the bearer token, the rate limit), the same use cases'
scoping and the same read audit: each request is one operation, its reads one REPEATABLE READ
snapshot (adapters/snapshot.py) whose transaction also writes the audit record of the cases it
read. Answers and errors are `application/fhir+json`; an error is an `OperationOutcome` (what
the routes do not answer themselves, an unknown path or an error: `FhirRefusals`).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.requests import HTTPConnection

from alliance_contracts.access import NotAllowed
from alliance_contracts.fhir import FHIR_JSON, INSTRUMENT_CODE_SYSTEM, Issue, operation_outcome
from alliance_contracts.ids import PSEUDONYMOUS_ID_PATTERN
from alliance_gateway.adapters.queries import ScoreKey
from alliance_gateway.application import observations, reads
from alliance_gateway.application.observations import MAX_COUNT, ObservationSearch
from alliance_gateway.application.request import UserError
from alliance_gateway.entrypoints.context import Context
from alliance_gateway.entrypoints.fhir_capabilities import CAPABILITY_STATEMENT
from alliance_gateway.graphql.pagination import Keyset
from alliance_platform.fhir_refusals import refusal_issues

SEARCH_PARAMETERS = frozenset({"subject", "code", "date", "_count", "_cursor"})
MAX_CODES = 20
MAX_CODE_LENGTH = 32  # ids.Code


def _read_key(key: list[str]) -> ScoreKey:
    administered_at, score_id = key
    return datetime.fromisoformat(administered_at), uuid.UUID(score_id)


OBSERVATIONS: Keyset[ScoreKey] = Keyset(
    "observation", lambda k: [k[0].isoformat(), str(k[1])], _read_key
)


class BadSearch(Exception):
    """A search parameter the server does not support or cannot read: 400, naming it."""

    def __init__(self, parameter: str, rule: str) -> None:
        super().__init__(rule)
        self.parameter = parameter


def fhir(resource: dict[str, Any], status_code: int = 200, **headers: str) -> Response:
    body = json.dumps(resource, separators=(",", ":")).encode()
    return Response(body, status_code, headers or None, media_type=FHIR_JSON)


def outcome(code: str, diagnostics: str, expression: str = "") -> dict[str, Any]:
    return operation_outcome([Issue(expression, diagnostics, code)])


def _subject(value: str) -> str:
    case_id = value.removeprefix("Patient/")
    if not re.fullmatch(PSEUDONYMOUS_ID_PATTERN, case_id):
        raise BadSearch("subject", "a case's pseudonymous id: Patient/<case id>")
    return case_id


def _codes(values: list[str]) -> tuple[str, ...]:
    tokens = [t for v in values for t in v.split(",")]
    if len(tokens) > MAX_CODES:
        raise BadSearch("code", f"at most {MAX_CODES} codes")
    codes = []
    for token in tokens:
        system, bar, code = token.rpartition("|")
        if (bar and system != INSTRUMENT_CODE_SYSTEM) or not 0 < len(code) <= MAX_CODE_LENGTH:
            raise BadSearch(
                "code", f"an instrument code, alone or as {INSTRUMENT_CODE_SYSTEM}|<code>"
            )
        codes.append(code)
    return tuple(codes)


def _instant_range(value: str) -> tuple[datetime, datetime]:
    """The interval a date or dateTime stands for: a day (UTC), or the instant itself."""
    try:
        if len(value) == 10:
            start = datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
            return start, start + timedelta(days=1)
        instant = datetime.fromisoformat(value)
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise BadSearch("date", "YYYY-MM-DD, or a dateTime with its time zone")
    return instant, instant + timedelta(microseconds=1)


def _dates(values: list[str]) -> tuple[datetime | None, datetime | None]:
    """[since, before) from `date` parameters with FHIR prefixes (eq by default), intersected."""
    since: datetime | None = None
    before: datetime | None = None
    for value in values:
        prefix, rest = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
        start, end = _instant_range(rest)
        bounds = {
            "eq": (start, end),
            "ge": (start, None),
            "gt": (end, None),
            "le": (None, end),
            "lt": (None, start),
        }.get(prefix)
        if bounds is None:
            raise BadSearch("date", "prefixes: eq, ge, gt, le, lt")
        low, high = bounds
        since = low if since is None or (low is not None and low > since) else since
        before = high if before is None or (high is not None and high < before) else before
    return since, before


def _count(values: list[str]) -> int:
    if len(values) > 1 or not values[0].isdigit() or not 1 <= int(values[0]) <= MAX_COUNT:
        raise BadSearch("_count", f"a whole number between 1 and {MAX_COUNT}")
    return int(values[0])


def parse_search(params: list[tuple[str, str]]) -> ObservationSearch:
    """The search an Observation query asks for; an unknown parameter is refused (not
    ignored: a filter the client believes applied must not silently widen the answer)."""
    asked: dict[str, list[str]] = {}
    for name, value in params:
        if name not in SEARCH_PARAMETERS:
            raise BadSearch(name, "not a search parameter of Observation here")
        asked.setdefault(name, []).append(value)
    if len(asked.get("subject", [])) > 1:
        raise BadSearch("subject", "one case")
    try:
        after = OBSERVATIONS.after(asked["_cursor"][-1]) if "_cursor" in asked else None
    except UserError as exc:
        raise BadSearch("_cursor", "not a cursor this server issued") from exc
    since, before = _dates(asked.get("date", []))
    return ObservationSearch(
        case_id=_subject(asked["subject"][0]) if "subject" in asked else None,
        instruments=_codes(asked.get("code", [])),
        since=since,
        before=before,
        count=_count(asked["_count"]) if "_count" in asked else 50,
        after=after,
    )


def fhir_router(context: Callable[[HTTPConnection], Awaitable[Context]]) -> APIRouter:
    """The FHIR routes; `context` authenticates (the GraphQL door's) and gives the request's
    use-case context."""
    router = APIRouter(prefix="/fhir", tags=["fhir"])

    async def admitted(request: Request) -> Context | Response:
        try:
            ctx = await context(request)
            ctx.caller  # noqa: B018 (raises without one: the door lets a browser's page through)
        except HTTPException as refused:  # the door's: 401, 429, 503
            issues = refusal_issues(refused.status_code, refused.detail)
            headers = dict(refused.headers or {})
            return fhir(operation_outcome(issues), refused.status_code, **headers)
        except NotAllowed:
            challenge = {"WWW-Authenticate": "Bearer"}
            return fhir(outcome("login", "a bearer token is required"), 401, **challenge)
        return ctx

    async def audited(ctx: Context, request: Request, operation: str, read: Any) -> Any:
        """Runs `read` as one operation: one snapshot, its audit in the same transaction."""
        async with ctx.operation():
            found = await read()
            client = request.client
            await reads.record_reads(ctx, operation, client.host if client else None)
        return found

    @router.get("/metadata", response_class=Response)
    async def capabilities() -> Response:
        """What the FHIR endpoints of Alliance support (intake's and the gateway's). Public:
        it holds no data."""
        return fhir(CAPABILITY_STATEMENT)

    @router.get("/Observation", response_class=Response)
    async def search_observations(request: Request) -> Response:
        """Scores as Observations in a `searchset` Bundle, in administration order, in the
        caller's scope (docs/fhir.md: `subject`, `code`, `date`, `_count`, `_cursor`)."""
        ctx = await admitted(request)
        if isinstance(ctx, Response):
            return ctx
        try:
            asked = parse_search(request.query_params.multi_items())
        except BadSearch as bad:
            return fhir(outcome("not-supported", f"{bad.parameter}: {bad}", bad.parameter), 400)
        page = await audited(
            ctx, request, "FHIR Observation search", lambda: observations.search(ctx, asked)
        )
        base = f"{request.base_url}fhir/Observation"
        links = [{"relation": "self", "url": str(request.url)}]
        if page.has_next:
            last = page.items[-1].score
            cursor = OBSERVATIONS.cursor((last.administered_at, last.source_event_id))
            links.append(
                {"relation": "next", "url": str(request.url.include_query_params(_cursor=cursor))}
            )
        entries = [
            {
                "fullUrl": f"{base}/{row.score.source_event_id}",
                "resource": observations.observation(row),
                "search": {"mode": "match"},
            }
            for row in page.items
        ]
        return fhir(
            {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}
        )

    @router.get("/Observation/{observation_id}", response_class=Response)
    async def read_observation(observation_id: str, request: Request) -> Response:
        """One Observation; 404 when it does not exist or is not the caller's to read."""
        ctx = await admitted(request)
        if isinstance(ctx, Response):
            return ctx
        try:
            score_id = uuid.UUID(observation_id)
        except ValueError:
            score_id = None
        row = (
            await audited(
                ctx, request, "FHIR Observation read", lambda: observations.read(ctx, score_id)
            )
            if score_id is not None
            else None
        )
        if row is None:
            return fhir(
                outcome("not-found", "id: no Observation with this id that you may read"), 404
            )
        return fhir(observations.observation(row))

    return router
