"""The gateway's planned completion of plain fields (graphql/planned.py) answers exactly as
graphql-core's own execution: the same data, the same errors at the same paths, for plain
attributes, resolvers, aliases, fragments, directives, enums, nulls and values a scalar refuses."""

from __future__ import annotations

import asyncio
import enum
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from strawberry.extensions import ParserCache

from alliance_gateway.graphql.planned import SHARED_PLANS, PlannedExecution


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Leaf:
    name: str
    score: float


@strawberry.type
class Item:
    label: str
    at: datetime
    colour: Colour
    numbers: list[int]
    maybe: int | None
    leaves: list[Leaf]
    best: Leaf | None

    @strawberry.field
    async def doubled(self, times: int = 2) -> list[int]:
        await asyncio.sleep(0)
        return [n * times for n in self.numbers]


def _item(label: str, **changes: Any) -> Item:
    values: dict[str, Any] = {
        "label": label,
        "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "colour": Colour.RED,
        "numbers": [1, 2],
        "maybe": None,
        "leaves": [Leaf(name="a", score=1.5), Leaf(name="b", score=2.0)],
        "best": Leaf(name="c", score=3.0),
    }
    return Item(**(values | changes))


def _unchecked_leaf(name: Any, score: Any) -> Leaf:
    return Leaf(name=name, score=score)


BROKEN: dict[str, Any] = {}


@strawberry.type
class Query:
    @strawberry.field
    async def items(self) -> list[Item]:
        return [_item("one"), _item("two", colour=Colour.BLUE, maybe=7, best=None)]

    @strawberry.field
    def broken(self) -> list[Item]:
        return [_item("fine"), _item("bad", **BROKEN)]


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    """graphql-core's execution, and the gateway's: planned, with the parser's cache (each
    request of the same text gets the same document, so plans are shared between them)."""
    plain = strawberry.Schema(query=Query)
    planned = strawberry.Schema(
        query=Query, execution_context_class=PlannedExecution, extensions=[ParserCache]
    )
    return plain, planned


def _answer(schema: strawberry.Schema, query: str, variables: dict[str, Any]) -> Any:
    result = asyncio.run(schema.execute(query, variable_values=variables))
    errors = [(e.message, e.path) for e in result.errors or []]
    return result.data, errors


QUERIES = [
    "{ items { label at colour numbers maybe leaves { name score } best { name } } }",
    "{ items { __typename label doubled d3: doubled(times: 3) leaves { __typename score } } }",
    "{ items { first: label again: label ...F leaves { ... on Leaf { name } } } } "
    "fragment F on Item { colour best { score name } }",
    "query Q($with: Boolean!) { items { label @include(if: $with) colour "
    "leaves @skip(if: $with) { name } } }",
]


@pytest.mark.parametrize("query", QUERIES)
def test_planned_answers_as_graphql_core(query: str) -> None:
    plain, planned = _schemas()
    for variables in ({"with": True}, {"with": False}, {"with": True}):
        expected = _answer(plain, query, variables)
        assert expected[0] is not None
        assert _answer(planned, query, variables) == expected


@pytest.mark.parametrize(
    "broken",
    [
        {"label": None},  # null for a non-null field
        {"numbers": [1, None]},  # null in a list of non-null
        {"numbers": "12"},  # not a list
        {"leaves": [_unchecked_leaf("a", "x")]},  # a value the scalar refuses
        {"at": "not a datetime"},
        {"best": _unchecked_leaf(None, 1.0)},  # nullable object with a bad field
    ],
)
def test_errors_are_graphql_cores(broken: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.BROKEN", broken)
    query = "{ broken { label at numbers maybe leaves { name score } best { name } } }"
    plain, planned = _schemas()
    expected = _answer(plain, query, {})
    assert expected[1], "the broken item is an error"
    assert _answer(planned, query, {}) == expected


class _CountingPlanned(PlannedExecution):
    fields = 0

    def execute_field(self, *args: Any, **kwargs: Any) -> Any:
        type(self).fields += 1
        return super().execute_field(*args, **kwargs)


def test_plain_fields_skip_graphql_cores_field_execution() -> None:
    """Only the root field and the fields with resolvers are executed field by field."""
    schema = strawberry.Schema(query=Query, execution_context_class=_CountingPlanned)
    _CountingPlanned.fields = 0
    data, errors = _answer(schema, QUERIES[1], {})
    assert not errors
    assert len(data["items"]) == 2
    assert _CountingPlanned.fields == 1 + 2 * 2  # items; doubled and d3 of each item


class _CountingPlans(PlannedExecution):
    made = 0

    def _make_plan(self, *args: Any) -> Any:
        type(self).made += 1
        return super()._make_plan(*args)


def test_a_document_is_planned_once_unless_it_has_directives() -> None:
    """The second request of a directive-free document plans nothing; one with a directive is
    planned per request (its selection depends on the variables)."""
    SHARED_PLANS.plans.clear()
    schema = strawberry.Schema(
        query=Query, execution_context_class=_CountingPlans, extensions=[ParserCache]
    )
    made = []
    for query in (QUERIES[0], QUERIES[3]):
        for _ in range(2):
            _CountingPlans.made = 0
            data, errors = _answer(schema, query, {"with": True})
            assert data is not None
            assert not errors
            made.append(_CountingPlans.made)
    assert made[0] > 0
    assert made[1] == 0  # reused
    assert made[2] > 0
    assert made[3] == made[2]  # planned again
