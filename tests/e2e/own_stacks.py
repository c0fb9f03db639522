"""For the end-to-end tests that run a stack of their own (`alliance_devstack.client.
launched_stack`: several brokers, or several processes of a service), and for those that count
what scoring made of a clinic's responses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import asyncpg

from alliance_devstack.client import LaunchedStack
from alliance_devstack.scram import service_client_env
from alliance_platform.dbroles import service_url
from alliance_platform.devtoken import DevIssuer

# The launcher adopts engines named in the environment: a stack of its own must not see them.
ENGINES = ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
Database = asyncpg.Pool | asyncpg.Connection


def issuer(stack: LaunchedStack) -> DevIssuer:
    """The stack's local identity provider: tokens its services accept."""
    return DevIssuer.from_key_file(
        stack.env["ALLIANCE_DEV_SIGNING_KEY_FILE"],
        stack.env["ALLIANCE_JWT_ISSUER"],
        stack.env["ALLIANCE_JWT_AUDIENCE"],
    )


def service_env(stack: LaunchedStack, service: str) -> dict[str, str]:
    """A service's environment as the launcher gives it (its own database role, and on a
    secured stack its own Kafka principal), with small batches (many per stream)."""
    env = {
        **os.environ,
        **stack.env,
        "DATABASE_URL": service_url(stack.env["DATABASE_URL"], service),
        "ALLIANCE_SCORING_BATCH": "25",
        **service_client_env(stack.state["kafka"], service),
    }
    if service == "alerts":
        env["ALLIANCE_WEBHOOK_KEYS"] = f"local:{stack.state['webhook_key']}"
    return env


def launcher(stack: LaunchedStack, *args: str) -> None:
    """`python -m alliance_devstack <args>` on the stack (`start` starts what is not running)."""
    env = {k: v for k, v in os.environ.items() if k not in ENGINES}
    done = subprocess.run(
        [sys.executable, "-m", "alliance_devstack", *args],
        env={**env, "ALLIANCE_STACK_DIR": str(stack.directory)},
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)


def status(stack: LaunchedStack) -> dict[str, Any]:
    """`alliance status --json`."""
    out = subprocess.run(
        [sys.executable, "-m", "alliance_cli", "status", "--json"],
        env={**os.environ, **stack.env, "ALLIANCE_DB_ADMIN_URL": stack.env["DATABASE_URL"]},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    found: dict[str, Any] = json.loads(out)
    return found


def caught_up(stack: LaunchedStack) -> bool:
    """No lag in any generation's groups, every outbox empty."""
    now = status(stack)
    lag = sum(g["lag"] for p in now["projections"] for g in p["generations"])
    return bool(lag == 0 and sum(o["backlog"] for o in now["outboxes"]) == 0)


async def scored_in_clinic(pg: Database, clinic: str) -> int:
    return int(
        await pg.fetchval("SELECT count(*) FROM scoring.dyad_score WHERE clinic_id = $1", clinic)
    )


async def scored_at_least(pg: Database, clinic: str, n: int) -> bool:
    return await scored_in_clinic(pg, clinic) >= n


def first_scored(values: list[bytes]) -> dict[str, dict[str, Any]]:
    """The `response.scored` events among these record values, by event id, each as it first
    appears (a repeat has the same id)."""
    scored: dict[str, dict[str, Any]] = {}
    for value in values:
        event = json.loads(value)
        if event["event_type"] == "response.scored":
            scored.setdefault(event["event_id"], event)
    return scored


def sessions_of(scored: dict[str, dict[str, Any]], case: str) -> list[int]:
    """A case's scored sessions, in the order of the topic."""
    return [e["payload"]["session_number"] for e in scored.values() if e["case_id"] == case]


async def dyads_of_clinic(pg: Database, clinic: str) -> tuple[int, set[int]]:
    """The responses its dyads counted, and the SRS sessions they hold as their latest."""
    responses = await pg.fetchval(
        "SELECT sum(responses) FROM scoring.dyad WHERE clinic_id = $1", clinic
    )
    latest = await pg.fetch(
        "SELECT (latest->'SRS'->>'session_number')::int AS s FROM scoring.dyad "
        "WHERE clinic_id = $1",
        clinic,
    )
    return int(responses or 0), {r["s"] for r in latest}
