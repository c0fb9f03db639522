"""Least privilege on the real database: each service's role owns only its schemas; the
gateway's reads the declared read models and writes only its own schema; grants survive a
projection rebuild."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from alliance_platform import projections
from alliance_platform.dbroles import role_of, scram_verifier
from alliance_platform.projections import Purpose
from tests.helpers import create_projection_tables
from tests.stack import Endpoints


@pytest.fixture
async def as_role(stack: Endpoints) -> AsyncIterator[Callable[[str], asyncpg.Connection]]:
    """Connections as a service's own role."""
    opened: dict[str, asyncpg.Connection] = {}
    for service in ("intake", "scoring", "alerts", "gateway"):
        opened[service] = await asyncpg.connect(stack.service_env(service)["DATABASE_URL"])
    yield opened.__getitem__
    for conn in opened.values():
        await conn.close()


async def refused(conn: asyncpg.Connection, sql: str) -> bool:
    try:
        await conn.execute(sql)
    except asyncpg.InsufficientPrivilegeError:
        return True
    return False


async def test_each_role_reaches_only_what_it_owns_or_is_granted(
    stack: Endpoints, as_role: Callable[[str], asyncpg.Connection]
) -> None:
    scoring_slot = await create_projection_tables(stack, "scoring")
    await create_projection_tables(stack, "alerts")
    gateway, intake, scoring = as_role("gateway"), as_role("intake"), as_role("scoring")
    # The gateway reads the declared read models...
    await gateway.fetch("SELECT * FROM scoring.dyad LIMIT 1")
    await gateway.fetch("SELECT * FROM alerts.alert LIMIT 1")
    # ...and changes none of them, nor reads private state.
    assert await refused(gateway, "UPDATE scoring.dyad SET therapist_id = therapist_id")
    assert await refused(gateway, "DELETE FROM alerts.alert")
    assert await refused(gateway, f"SELECT * FROM {scoring_slot}.case_state")
    assert await refused(gateway, f"SELECT * FROM {scoring_slot}.dyad")  # only through the view
    assert await refused(gateway, "SELECT * FROM alerts_delivery.endpoint")
    assert await refused(gateway, "SELECT * FROM intake.submission")
    # Intake cannot read alerts' tables, nor scoring intake's.
    assert await refused(intake, "SELECT * FROM alerts.alert")
    assert await refused(intake, "SELECT * FROM alerts_delivery.endpoint")
    assert await refused(scoring, "SELECT * FROM intake.submission")
    assert await refused(scoring, "SELECT * FROM alerts.alert")
    # Nobody creates schemas or writes to public.
    for service in ("intake", "scoring", "alerts", "gateway"):
        assert await refused(as_role(service), "CREATE SCHEMA sneaky")
        assert await refused(as_role(service), "CREATE TABLE public.sneaky (x int)")


async def test_a_rebuilt_projection_is_readable_again(
    pg: asyncpg.Pool, as_role: Callable[[str], asyncpg.Connection], ids: Callable[[str], str]
) -> None:
    """A projection's owner builds a new generation and switches to it: the gateway reads the
    new one through the views, never the slots, and writes neither."""
    name = ids("rebuild").replace("-", "_")
    for schema in (name, f"{name}_blue", f"{name}_green"):
        await pg.execute(f"CREATE SCHEMA {schema} AUTHORIZATION {role_of('scoring')}")
    owner, gateway = as_role("scoring"), as_role("gateway")
    try:
        await projections.ensure_catalog(owner, name, ["view"], ["t"])
        first = await projections.begin(owner, name, 1, Purpose.UPGRADE, ["t"])
        await owner.execute(f"CREATE TABLE {first.schema}.view (x int PRIMARY KEY)")
        await owner.execute(f"INSERT INTO {first.schema}.view VALUES (1)")
        async with owner.transaction():
            await projections.point_views(owner, name, first.slot, ["view"])
        assert await gateway.fetchval(f"SELECT count(*) FROM {name}.view") == 1
        second = await projections.begin(owner, name, 2, Purpose.UPGRADE, ["t"])
        await owner.execute(f"CREATE TABLE {second.schema}.view (x int PRIMARY KEY)")
        await projections.switch(owner, name, second.number, ["view"])
        assert await gateway.fetchval(f"SELECT count(*) FROM {name}.view") == 0
        assert await refused(gateway, f"INSERT INTO {name}.view VALUES (2)")
        assert await refused(gateway, f"SELECT * FROM {second.schema}.view")
    finally:
        for schema in (name, f"{name}_blue", f"{name}_green"):
            await pg.execute(f"DROP SCHEMA {schema} CASCADE")


async def test_passwords_reach_postgresql_as_scram_verifiers(
    pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    """Our verifier is the one PostgreSQL computes itself (same salt and iterations)."""
    role = ids("scram").replace("-", "_")
    password = "correct-horse-battery-staple"
    await pg.execute(f"CREATE ROLE {role} PASSWORD '{password}'")
    try:
        stored = await pg.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", role)
        assert stored.startswith("SCRAM-SHA-256$")
        iterations, salt = stored.removeprefix("SCRAM-SHA-256$").split("$")[0].split(":")
        assert scram_verifier(password, base64.b64decode(salt), int(iterations)) == stored
    finally:
        await pg.execute(f"DROP ROLE {role}")
