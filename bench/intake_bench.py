"""intake's `POST /v1/responses` against a FastAPI hello-world POST served the same way.

On a throwaway stack, intake runs alone as its own process (`python -m alliance_intake`, its
own database role, tokens checked against the stack's JWKS), beside the anchor
(`bench.anchors.hello_post`: intake's entry point with a hello-world app). Every request is a
valid SRS submission of a case of its own with a unique idempotency key, sent with a clinic
system's token (`responses:write`) for a clinic whose configuration was set first. Afterwards
the bench counts intake's stored submissions against the 202s it received.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from alliance_contracts.access import Scope
from bench.comparison import BenchResult, Comparison
from bench.http_stack import HttpStack, children, running, say
from bench.loadtools import Target
from bench.side_by_side import (
    Durations,
    Server,
    costs,
    details,
    other_cores,
    rows,
    run_pair,
)

CLINIC = "clinic-bench"
PATH = "intake: POST /v1/responses"


def submission_template(administered_at: datetime) -> str:
    """One SRS submission; `@@SEQ@@` makes its case and idempotency key unique."""
    return json.dumps(
        {
            "clinic_id": CLINIC,
            "case_id": "case-@@SEQ@@",
            "therapist_id": "th-bench",
            "respondent_role": "client",
            "instrument": "SRS",
            "form": "client",
            "session_number": 1,
            "administered_at": administered_at.isoformat().replace("+00:00", "Z"),
            "answers": {"1": 9.1, "2": 8.5, "3": 7.0, "4": 9.9},
            "idempotency_key": "bench-@@SEQ@@",
        }
    )


def _request(method: str, url: str, token: str, body: dict[str, Any]) -> tuple[int, Any]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method=method,
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, json.loads(r.read() or b"null")


async def _stored(stack: HttpStack) -> dict[str, int]:
    conn = await asyncpg.connect(stack.admin_url)
    try:
        return {
            "submissions": int(await conn.fetchval("SELECT count(*) FROM intake.submission")),
            "outbox_left": int(await conn.fetchval("SELECT count(*) FROM intake.outbox")),
        }
    finally:
        await conn.close()


async def run(stack: HttpStack, durations: Durations, run_id: str) -> BenchResult:
    issuer = stack.issuer()
    admin = issuer.clinic_system("bench-admin", [Scope.CLINIC_ADMIN], [CLINIC], hours=2)
    writer = issuer.clinic_system("bench-ehr", [Scope.RESPONSES_WRITE], [CLINIC], hours=2)
    env = stack.service_env("intake")
    with (
        running("intake", env, stack.log("intake")) as intake,
        running("hello", env, stack.log("hello"), argv=["-m", "bench.anchors.hello_post"]) as hello,
    ):
        status, _ = _request(
            "PATCH",
            f"{intake.url}/v1/clinics/{CLINIC}/configuration",
            admin,
            {
                "overrides": {"rules_enabled": {"drop_from_previous": True}},
                "idempotency_key": f"bench-config-{run_id}",
            },
        )
        say(f"intake: clinic configuration set ({status})")
        body = submission_template(datetime.now(UTC) - timedelta(hours=1))
        headers = {"Authorization": f"Bearer {writer}"}
        _, answer = _request("POST", f"{hello.url}/v1/responses", writer, json.loads(body))
        if answer != {"hello": "world"}:  # see bench/anchors/hello_post.py
            raise RuntimeError(f"the anchor did not answer as hello-world: {answer!r}")
        before = await _stored(stack)
        anchor = Server(
            "hello-world",
            Target(f"{hello.url}/v1/responses", headers, body),
            hello.pid,
            ("pg@hello", stack.postgres_pid),
        )
        alliance = Server(
            "intake",
            Target(f"{intake.url}/v1/responses", headers, body),
            intake.pid,
            ("postgres", stack.postgres_pid),
        )
        results = run_pair(
            anchor, alliance, durations, run_id, {"kafka": int(stack.state["kafka"]["pid"])}
        )
        await asyncio.sleep(1)  # the relay empties the outbox
        after = await _stored(stack)
        workers = {"intake": children(intake.pid), "hello-world": children(hello.pid)}
    # Every 202 must be a stored submission. A request still in flight when a load stops may
    # be stored without its answer being counted, so stored >= accepted.
    accepted = sum(r.statuses.get("202", 0) for r in results["intake"].values())
    stored = after["submissions"] - before["submissions"]
    non_2xx = {
        server: {phase: r.non_2xx for phase, r in phases.items()}
        for server, phases in results.items()
    }
    share = (
        results["intake"]["closed"].rps / results["hello-world"]["closed"].rps * 100
        if results["hello-world"]["closed"].rps
        else 0.0
    )
    comparisons = [
        *rows(PATH, anchor, alliance, results),
        Comparison(
            path=PATH,
            metric="share of hello-world",
            unit="%",
            better="higher",
            alliance=round(share, 1),
            note="issue 12's target: at least 30 %",
        ),
    ]
    say(
        f"intake: {accepted} answered 202, {stored} stored in intake.submission "
        f"({'every accepted one stored' if stored >= accepted else 'SOME ACCEPTED ARE MISSING'})"
        f"; non-2xx: {non_2xx}"
    )
    return BenchResult(
        name="intake",
        comparisons=comparisons,
        costs=costs("intake", (alliance, anchor), results),
        details={
            "loads": details(results),
            "other_cores": other_cores(results),
            "answered_202": accepted,
            "stored": stored,
            "every_accepted_stored": stored >= accepted,
            "outbox_left_after": after["outbox_left"],
            "non_2xx": non_2xx,
            "child_processes": workers,
            "clinic": CLINIC,
        },
    )
