"""Schema migrations on the real database: the revisions at head build exactly the models (what CI
checks), a model that drifts from them fails that check, a database that `create_all` made
before migrations is adopted with its rows, and a service refuses to start behind its schema."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import pytest
from sqlalchemy import Column, MetaData, Text

from alliance_intake.entrypoints.http import create_app
from alliance_intake.settings import IntakeSettings
from alliance_platform.db import create_schema
from alliance_platform.dbroles import bootstrap, service_url
from alliance_platform.migrate import (
    MigrationEnvironment,
    SchemaNotAtHead,
    check,
    code_head,
    installed_environments,
    require_at_head,
    upgrade,
)
from tests.helpers import AUTH_ENV
from tests.stack import DB_PASSWORDS, Endpoints


def with_extra_column(env: MigrationEnvironment) -> MigrationEnvironment:
    """`env` whose models have one column more than its revisions make."""
    metadata = MetaData(schema=env.schema)
    for table in env.metadata.tables.values():
        table.to_metadata(metadata)
    first = sorted(metadata.tables)[0]
    metadata.tables[first].append_column(Column("added_in_the_model_only", Text))
    return replace(env, metadata=metadata)


async def test_the_revisions_at_head_build_exactly_the_models(stack: Endpoints) -> None:
    for env in installed_environments():
        assert await asyncio.to_thread(check, stack.database_url, env, DB_PASSWORDS) is None


async def test_a_column_only_in_the_models_fails_the_check(stack: Endpoints) -> None:
    for env in installed_environments():
        diffs = await asyncio.to_thread(
            check, stack.database_url, with_extra_column(env), DB_PASSWORDS
        )
        assert diffs is not None, env.schema
        assert "added_in_the_model_only" in diffs


# Tables that revisions after the baselines added: a database from before migrations lacks them.
LATER_TABLES = {
    ("intake", "outbox_parked"),
    ("gateway", "outbox_parked"),
    ("alerts_delivery", "outbox"),
    ("alerts_delivery", "outbox_parked"),
}
# Columns that revisions after the baselines added: (service, schema, table, column).
LATER_COLUMNS = {("alerts", "alerts_delivery", "delivery", "traceparent")}


@pytest.fixture
async def scratch_database(pg: asyncpg.Pool, stack: Endpoints) -> AsyncIterator[str]:
    """An administrator's URL of a new, empty database with the services' roles."""
    name = f"migrations_{uuid.uuid4().hex[:10]}"
    await pg.execute(f'CREATE DATABASE "{name}"')
    admin_url = stack.database_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        await bootstrap(admin_url, DB_PASSWORDS)
        yield admin_url
    finally:
        await pg.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def env_of(schema: str) -> MigrationEnvironment:
    return next(env for env in installed_environments() if env.schema == schema)


async def test_a_database_made_by_create_all_is_adopted_with_its_rows(
    scratch_database: str,
) -> None:
    # As each service did on start before migrations: its tables of then, as its role.
    for env in installed_environments():
        url = service_url(scratch_database, env.service, DB_PASSWORDS[env.service])
        then = [t for t in env.metadata.tables.values() if (env.schema, t.name) not in LATER_TABLES]
        await create_schema(url, env.schema, then)
    for service, schema, table, column in LATER_COLUMNS:
        owner = await asyncpg.connect(service_url(scratch_database, service, DB_PASSWORDS[service]))
        try:
            await owner.execute(f"ALTER TABLE {schema}.{table} DROP COLUMN {column}")
        finally:
            await owner.close()
    intake_url = service_url(scratch_database, "intake", DB_PASSWORDS["intake"])
    conn = await asyncpg.connect(intake_url)
    try:
        await conn.execute(
            "INSERT INTO intake.submission (event_id, clinic_id, case_id, idempotency_key, "
            "fingerprint, event) VALUES ($1, 'c', 'k', 'i', 'f', '{}')",
            uuid.uuid4(),
        )
        with pytest.raises(SchemaNotAtHead, match=r"schema intake is at revision \(none\)"):
            await require_at_head(intake_url, env_of("intake"))

        await asyncio.to_thread(upgrade, scratch_database, installed_environments(), DB_PASSWORDS)

        assert await conn.fetchval("SELECT count(*) FROM intake.submission") == 1
        for env in installed_environments():
            await require_at_head(scratch_database, env)
            assert await asyncio.to_thread(check, scratch_database, env, DB_PASSWORDS) is None
    finally:
        await conn.close()
    # The baseline also made the read audit append-only.
    gateway = await asyncpg.connect(
        service_url(scratch_database, "gateway", DB_PASSWORDS["gateway"])
    )
    try:
        await gateway.execute(
            "INSERT INTO gateway.read_audit (event_id, subject, role, clinic_id, case_ids, "
            "dyad_ids) VALUES ($1, 's', 'clinician', 'c', '{}', '{}')",
            uuid.uuid4(),
        )
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await gateway.execute("DELETE FROM gateway.read_audit")
    finally:
        await gateway.close()


async def test_a_service_refuses_to_start_behind_its_schema(
    stack: Endpoints, scratch_database: str
) -> None:
    url = service_url(scratch_database, "intake", DB_PASSWORDS["intake"])
    env = {**stack.service_env("intake"), **AUTH_ENV, "DATABASE_URL": url}
    app = create_app(IntakeSettings.model_validate(env))
    with pytest.raises(SchemaNotAtHead) as refused:
        async with app.router.lifespan_context(app):
            pytest.fail("intake started on a schema without its migrations")
    assert f"code needs {code_head(env_of('intake'))}" in str(refused.value)
    assert "python -m alliance_platform.migrate upgrade" in str(refused.value)
    # It created nothing: the schema of record is made by migrations only.
    conn = await asyncpg.connect(scratch_database)
    try:
        assert not await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'intake'")
    finally:
        await conn.close()
