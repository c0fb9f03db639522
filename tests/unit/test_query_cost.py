"""The cost and depth estimates run in time linear in the document: fragments that spread
fragments twice over (2^n paths) are measured once each. And a document is validated once."""

from __future__ import annotations

import time
from typing import Any

import pytest
from graphql import parse
from strawberry.schema.schema import validate_document

from alliance_gateway.graphql import cost
from alliance_gateway.graphql.cost import query_cost, query_depth
from alliance_gateway.graphql.schema import build_schema


def test_fragment_fan_out_is_measured_once_per_fragment() -> None:
    n = 40
    leaf = 'alerts(clinicId: "c", first: 2) { edges { cursor } }'
    fragments = (
        "".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }} " for i in range(n))
        + f"fragment F{n} on Query {{ {leaf} }}"
    )
    document = parse("{ ...F0 } " + fragments)
    started = time.perf_counter()
    cost, depth = query_cost(document, None, 200), query_depth(document)
    assert time.perf_counter() - started < 0.5
    assert cost == 2**n * (1 + 2 * (1 + 1))  # every path counted, none walked
    assert depth == 3


async def test_a_document_is_validated_once_and_the_limits_still_refuse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The limit rules are built once per schema, so a document's verdict is remembered: a
    repeated document is not validated again, and a refused one stays refused."""
    validated: list[object] = []

    def counting(schema: object, document: object, rules: object) -> Any:
        validated.append(document)
        return validate_document(schema, document, rules)  # type: ignore[arg-type]

    monkeypatch.setattr(cost, "validate_document", counting)
    schema = build_schema(max_cost=50)
    fine = "query Fine { __typename }"
    dear = 'query Dear { alerts(clinicId: "c", first: 200) { edges { cursor } } }'
    deep = "query Deep { __schema { types { fields { type " + "{ ofType " * 12 + "{ name"
    deep += " }" * 17
    for _ in range(3):
        assert (await schema.execute(fine)).errors is None
        refused = (await schema.execute(dear)).errors
        assert refused is not None
        assert "query cost" in refused[0].message
        too_deep = (await schema.execute(deep)).errors
        assert too_deep is not None
        assert "depth" in too_deep[0].message
    assert len(validated) == 3  # once per distinct document


def test_a_cases_active_alerts_count_as_a_list_on_every_case_of_the_page() -> None:
    """`Case.activeAlerts` has no `first`: each case's list counts DEFAULT_LIST_SIZE alerts."""
    page = 'query { clinic(clinicId: "c") { cases(first: 25) { edges { node { caseId %s } } } } }'
    alerts = page % "activeAlerts { kind status }"
    per_case = 1 + cost.DEFAULT_LIST_SIZE * 2  # the field, and its alerts' two fields each
    assert query_cost(parse(alerts), None, 200) - query_cost(parse(page % ""), None, 200) == (
        25 * per_case
    )


def test_every_list_of_objects_counts_as_a_list() -> None:
    """A field that returns objects in a list is counted as a page (`first`) or as a list of
    `DEFAULT_LIST_SIZE`: a list counted as one object would let a query through at a tenth or
    less of its cost (e.g. every clinic of a network, each with its summaries)."""
    from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType

    schema = build_schema()._schema
    uncounted = []
    for type_name, kind in schema.type_map.items():
        if type_name.startswith("__") or not isinstance(kind, GraphQLObjectType):
            continue
        for name, field in kind.fields.items():
            returned = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            if not isinstance(returned, GraphQLList):
                continue
            item = returned.of_type
            item = item.of_type if isinstance(item, GraphQLNonNull) else item
            if not isinstance(item, GraphQLObjectType):
                continue  # scalars: no selection below, nothing to multiply
            paged = name in cost.PAGED_FIELDS and "first" in field.args
            paged = paged or (name == "edges" and type_name.endswith("Connection"))  # its page
            if not paged and name not in cost.LIST_FIELDS:
                uncounted.append(f"{type_name}.{name}")
    assert not uncounted, uncounted
