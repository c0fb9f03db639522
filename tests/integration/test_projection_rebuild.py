"""A projection whose shape changes is dropped and rebuilt (by replay), never half-migrated."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
from sqlalchemy import Column, Integer, MetaData, Table

from alliance_platform.db import create_schema
from tests.stack import Endpoints


async def test_a_new_projection_version_recreates_the_schema(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    schema = ids("proj").replace("-", "_")
    table = Table("t", MetaData(schema=schema), Column("x", Integer, primary_key=True))
    await create_schema(stack.database_url, schema, [table], projection_version=1)
    await pg.execute(f"INSERT INTO {schema}.t VALUES (1)")
    await create_schema(stack.database_url, schema, [table], projection_version=1)
    assert await pg.fetchval(f"SELECT count(*) FROM {schema}.t") == 1  # same version: kept
    await create_schema(stack.database_url, schema, [table], projection_version=2)
    assert await pg.fetchval(f"SELECT count(*) FROM {schema}.t") == 0  # new version: rebuilt
    await pg.execute(f"DROP SCHEMA {schema} CASCADE")
