"""The cost and depth estimates run in time linear in the document: fragments that spread
fragments twice over (2^n paths) are measured once each."""

from __future__ import annotations

import time

from graphql import parse

from alliance_gateway.graphql.cost import query_cost, query_depth


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
