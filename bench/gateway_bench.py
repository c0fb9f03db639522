"""The gateway's two benchmark operations against PostGraphile v4 on the same read-model views.

On a throwaway stack the launcher starts the four services as `./dev up` does and the demo
network is sent through intake; once scoring and alerts have caught up (`alliance status`: no
lag, empty outboxes), the bench picks the case with the most dyads and scores and the clinic
with the most alerts. Alliance answers `bench/queries/*.graphql` verbatim for a supervisor of
that clinic, with authentication, authorisation and the read audit on; PostGraphile answers
`bench/postgraphile/*.graphql` as the gateway's database role. Both must return the same
content (ids and scores) before anything is timed.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg

from alliance_contracts.access import Role, Scope
from alliance_demo.driver import send_all
from alliance_demo.network import build_network
from alliance_platform.dbroles import role_of, service_url
from bench import postgraphile_server
from bench.comparison import BenchResult, Comparison, Cost
from bench.http_stack import HttpStack, StatementLog, say
from bench.loadtools import Target
from bench.machine import REPO
from bench.side_by_side import (
    Durations,
    Server,
    costs,
    details,
    other_cores,
    rows,
    run_pair,
)

DEMO_CLINICS = ("clinic-north", "clinic-south")
EXTRA_DEMO_SEEDS = (8, 9, 10)
QUERIES = REPO / "bench" / "queries"
STATEMENT_SAMPLES = 5  # operations sent one by one while PostgreSQL logs every statement


def _module(stack: HttpStack, *argv: str, timeout: float) -> str:
    env = {**os.environ, **stack.env, "ALLIANCE_DB_ADMIN_URL": stack.admin_url}
    out = subprocess.run(
        [sys.executable, "-m", *argv], env=env, capture_output=True, text=True, timeout=timeout
    )
    if out.returncode != 0:
        raise RuntimeError(f"python -m {' '.join(argv[:1])} failed:\n{out.stderr[-3000:]}")
    return out.stdout


async def load_demo(stack: HttpStack) -> dict[str, int]:
    """The demo network as `./dev up` sends it, then copies of the networks of other seeds
    under case ids of their own (`<case>x<seed>`), so that a clinic has 20 alerts and more."""
    token = stack.issuer().clinic_system(
        "bench-demo", [Scope.RESPONSES_WRITE, Scope.CLINIC_ADMIN], DEMO_CLINICS, hours=2
    )
    intake = stack.service_base_url("intake")
    say("gateway: sending the demo network through intake")
    _module(stack, "alliance_demo", "--intake-url", intake, "--token", token, timeout=600)
    sent = {}
    for seed in EXTRA_DEMO_SEEDS:
        network = build_network(seed, datetime.now(UTC))
        copies = [
            s.model_copy(
                update={
                    "case_id": f"{s.case_id}x{seed}",
                    "idempotency_key": f"bench{seed}:{s.idempotency_key}",
                }
            )
            for s in network.submissions
        ]
        result = await send_all(copies, intake, token=token)
        sent[f"seed {seed}"] = result.accepted
    say(f"gateway: demo copies sent: {sent}")
    return sent


def wait_caught_up(stack: HttpStack, deadline: float) -> dict[str, Any]:
    """Until every live generation has no lag and every outbox is empty, twice in a row (alerts
    consume what scoring publishes)."""
    quiet = 0
    while True:
        status = json.loads(_module(stack, "alliance_cli", "status", "--json", timeout=60))
        lag = sum(g["lag"] for p in status["projections"] for g in p["generations"])
        backlog = sum(o["backlog"] for o in status["outboxes"])
        quiet = quiet + 1 if lag == 0 and backlog == 0 else 0
        if quiet >= 2:
            return {"lag": lag, "outbox_backlog": backlog, "dead_letters": status["dead_letters"]}
        if time.monotonic() > deadline:
            raise TimeoutError(f"not caught up: lag {lag}, outbox backlog {backlog}")
        time.sleep(1.0)


async def pick(stack: HttpStack) -> dict[str, Any]:
    conn = await asyncpg.connect(stack.admin_url)
    try:
        case = await conn.fetchrow(
            "SELECT d.clinic_id, d.case_id, count(DISTINCT d.dyad_id) AS dyads, "
            "count(s.source_event_id) AS scores FROM scoring.dyad d "
            "JOIN scoring.dyad_score s ON s.dyad_id = d.dyad_id AND s.status = 'current' "
            "GROUP BY 1, 2 ORDER BY 3 DESC, 4 DESC, 1, 2 LIMIT 1"
        )
        clinic = await conn.fetchrow(
            "SELECT clinic_id, count(*) AS alerts FROM alerts.alert GROUP BY 1 "
            "ORDER BY 2 DESC, 1 LIMIT 1"
        )
    finally:
        await conn.close()
    if case is None or clinic is None:
        raise RuntimeError("the demo network left no scored case or no alert")
    return {
        "case": {k: case[k] for k in ("clinic_id", "case_id", "dyads", "scores")},
        "alerts_clinic": {k: clinic[k] for k in ("clinic_id", "alerts")},
    }


def _case_content(alliance: dict[str, Any], anchor: dict[str, Any]) -> tuple[Any, Any]:
    a = [
        (d["dyadId"], [(s["responseId"], s["total"]) for s in d["timeline"]])
        for d in alliance["data"]["case"]["dyads"]
    ]
    view = anchor["data"]["caseViewByClinicIdAndCaseId"]
    b = [
        (
            d["dyadId"],
            [(s["sourceEventId"], s["total"]) for s in d["dyadScoresByDyadId"]["nodes"]],
        )
        for d in view["dyadsByClinicIdAndCaseId"]["nodes"]
    ]
    return a, b


def _alerts_content(alliance: dict[str, Any], anchor: dict[str, Any]) -> tuple[Any, Any]:
    a = alliance["data"]["alerts"]
    b = anchor["data"]["allAlerts"]
    return (
        ([e["node"]["alertId"] for e in a["edges"]], a["pageInfo"]["hasNextPage"]),
        ([e["node"]["alertId"] for e in b["edges"]], b["pageInfo"]["hasNextPage"]),
    )


async def run(stack: HttpStack, durations: Durations, run_id: str, deadline: float) -> BenchResult:
    pg_version = postgraphile_server.ensure_installed()
    stack.start_services()
    demo = await load_demo(stack)
    caught_up = wait_caught_up(stack, deadline)
    picked = await pick(stack)
    case, clinic = picked["case"], picked["alerts_clinic"]
    say(f"gateway: case {case}, alerts of {clinic}")
    token = stack.issuer().person(
        "bench-supervisor", Role.SUPERVISOR, sorted({case["clinic_id"], clinic["clinic_id"]}), 2
    )
    gateway_url = f"{stack.service_base_url('gateway')}/graphql"
    operations = {
        "case": (
            "gateway: one case",
            {"clinicId": case["clinic_id"], "caseId": case["case_id"]},
            _case_content,
        ),
        "alerts": (
            "gateway: clinic alerts, 20",
            {"clinicId": clinic["clinic_id"]},
            _alerts_content,
        ),
    }
    reader = service_url(stack.admin_url, "gateway")
    statements = StatementLog(stack)
    result_rows: list[Comparison] = []
    result_costs: list[Cost] = []
    loads: dict[str, Any] = {}
    sql: dict[str, Any] = {}
    neighbours: dict[str, float] = {}
    background = {"kafka": int(stack.state["kafka"]["pid"])} | {
        n: stack.service_pid(n) for n in ("intake", "scoring", "alerts")
    }
    with postgraphile_server.running(reader, stack.log("postgraphile")) as anchor_server:
        for name, (path, variables, content) in operations.items():
            alliance_body = {
                "query": (QUERIES / f"{name}.graphql").read_text(),
                "variables": variables,
            }
            anchor_body = {"query": postgraphile_server.query(name), "variables": variables}
            a = postgraphile_server.post(gateway_url, alliance_body, token)
            b = postgraphile_server.post(anchor_server.url, anchor_body)
            mine, theirs = content(a, b)
            if mine != theirs:
                raise RuntimeError(
                    f"{name}: the gateway and PostGraphile disagree:\n{mine}\n{theirs}"
                )
            say(f"gateway: {name}: both servers return the same content")
            sql[name] = await _statements(statements, gateway_url, alliance_body, token)
            anchor = Server(
                "PostGraphile",
                Target(anchor_server.url, {}, json.dumps(anchor_body)),
                anchor_server.pid,
                ("pg@pgraphile", stack.postgres_pid),
                unique_bodies=False,
            )
            alliance = Server(
                "gateway",
                Target(
                    gateway_url, {"Authorization": f"Bearer {token}"}, json.dumps(alliance_body)
                ),
                stack.service_pid("gateway"),
                ("postgres", stack.postgres_pid),
                unique_bodies=False,
            )
            results = run_pair(anchor, alliance, durations, f"{run_id}-{name}", background)
            result_rows += rows(path, anchor, alliance, results)
            result_rows.append(
                Comparison(
                    path=path,
                    metric="SQL statements/op",
                    unit="count",
                    better="lower",
                    alliance=sql[name]["per_operation"],
                    note="PostgreSQL log_statement=all window, role alliance_gateway; "
                    "PostGraphile makes 1",
                )
            )
            result_costs += costs(f"gw:{name}", (alliance, anchor), results)
            loads[name] = details(results)
            neighbours[name] = other_cores(results)
    return BenchResult(
        name="gateway",
        comparisons=result_rows,
        costs=result_costs,
        details={
            "loads": loads,
            "other_cores": round(sum(neighbours.values()) / max(1, len(neighbours)), 2),
            "picked": picked,
            "demo_copies_accepted": demo,
            "caught_up": caught_up,
            "sql_statements": sql,
            "postgraphile": pg_version,
            "token": "supervisor of the picked clinics (alliance_platform.devtoken)",
        },
    )


async def _statements(
    log: StatementLog, url: str, body: dict[str, Any], token: str
) -> dict[str, Any]:
    """Statements per operation: a window with STATEMENT_SAMPLES operations sent one by one,
    less an idle window of the same length (what the services' own loops send meanwhile)."""
    role = role_of("gateway")
    took: list[float] = []

    async def send() -> None:
        t = time.monotonic()
        for _ in range(STATEMENT_SAMPLES):
            await asyncio.to_thread(postgraphile_server.post, url, body, token)
        took.append(time.monotonic() - t)

    busy = await log.count(role, send)
    idle = await log.count(role, lambda: asyncio.sleep(took[0] if took else 1.0))
    if "statements" not in busy or "statements" not in idle:
        return {"busy": busy, "idle": idle, "per_operation": 0.0}
    per_op = (busy["statements"] - idle["statements"]) / STATEMENT_SAMPLES
    return {"busy": busy, "idle": idle, "per_operation": round(per_op, 1), "path": str(log.path)}
