"""Read-model rows as JSON built in PostgreSQL, read into the contract's shapes without the ORM.

A hot query selects each row as one JSON object (`json_row`) or a whole list as one JSON array
(`json_list`), naming every column the contract declares (so tests/unit/test_read_contract.py
checks them). The text is validated in one call (pydantic's Rust core) into `plain` shapes: the
contract model's fields and types, without SQLAlchemy's instrumentation of a table model,
which cost about eight times as much per row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar, cast

from pydantic import BaseModel, TypeAdapter, create_model
from pydantic.fields import FieldInfo
from sqlalchemy import Text, TextClause, func, literal_column, text
from sqlalchemy import cast as cast_sql
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.sql import ClauseElement

from alliance_contracts.readmodels import table_of

M = TypeVar("M", bound=BaseModel)


def json_row(model: type[BaseModel]) -> Any:
    """A row of a contract table as one JSON object of every column it declares (names as
    literals, columns qualified)."""
    parts: list[Any] = []
    for column in table_of(model).columns:  # type: ignore[arg-type]
        parts += [literal_column(f"'{column.name}'"), column]
    return func.json_build_object(*parts)


def json_list(model: type[BaseModel], *order: Any) -> Any:
    """The rows as one JSON array in `order` (empty, not null, without rows)."""
    return func.coalesce(
        func.json_agg(aggregate_order_by(json_row(model), *order)), literal_column("'[]'::json")
    )


def as_text(json: Any) -> Any:
    """JSON selected as its text: read in one call (`read_one`, `read_many`), never decoded
    into Python objects first."""
    return cast_sql(json, Text)


# PostgreSQL's SQL without a driver's casts of parameters (text() reads `:name` only).
_NAMED = PGDialect(paramstyle="named")  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Compiled:
    """A statement compiled to SQL text once (a hot query's shape, built with bind parameters
    for everything that varies), with the values of the parameters it fixed itself. Executed
    as text, it costs SQLAlchemy no compilation or cache key per call; the asyncpg dialect runs
    it as a prepared statement."""

    sql: TextClause
    fixed: dict[str, Any]

    def params(self, **given: Any) -> dict[str, Any]:
        return {**self.fixed, **given}


# A parameter with a cast (`:alert_id::UUID`, as PostgreSQL's compiler writes for some types):
# text() would not see the parameter, so the cast is spelt out.
_CAST_PARAMETER = re.compile(r"(:\w+)::(\w+(?:\[\])?)")


def compiled(statement: ClauseElement) -> Compiled:
    sql = statement.compile(dialect=_NAMED)
    written = _CAST_PARAMETER.sub(r"CAST(\1 AS \2)", str(sql))
    return Compiled(text(written), {k: v for k, v in sql.params.items() if v is not None})


@cache
def plain(model: type[M]) -> type[M]:
    """The model's fields and types as a plain pydantic model. Its instances have the same
    attributes as the table model's, which is what the readers use (hence the cast)."""
    fields: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if field.default_factory is not None:
            fields[name] = (field.annotation, FieldInfo(default_factory=field.default_factory))
        elif not field.is_required():
            fields[name] = (field.annotation, FieldInfo(default=field.default))
        else:
            fields[name] = (field.annotation, FieldInfo())
    return cast(type[M], create_model(f"{model.__name__}Row", **fields))


@cache
def _one(model: type[M]) -> TypeAdapter[M]:
    return TypeAdapter(plain(model))


@cache
def _many(model: type[M]) -> TypeAdapter[list[M]]:
    return TypeAdapter(list[plain(model)])  # type: ignore[misc,arg-type]


def read_one(model: type[M], value: str) -> M:
    """One JSON row (`json_row`, as text) as the model's shape."""
    row: M = _one(model).validate_json(value)
    return row


def read_many(model: type[M], value: str) -> list[M]:
    """A JSON array of rows (`json_list`, as text) as the model's shapes."""
    return _many(model).validate_json(value)
