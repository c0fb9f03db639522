"""The gateway's Prometheus metrics (decision 0024): operations by name, with their outcome,
time and estimated cost. Operation names are the client's choice, so only the first
`MAX_NAMED_OPERATIONS` distinct names get a label of their own; later ones count as `other`."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterator

from graphql import DocumentNode
from prometheus_client import Counter, Histogram
from strawberry.extensions import SchemaExtension

from alliance_gateway.graphql.cost import query_cost
from alliance_gateway.graphql.pagination import MAX_PAGE

MAX_NAMED_OPERATIONS = 200
COSTED_DOCUMENTS = 256  # distinct documents whose estimated cost is remembered

OPERATIONS = Counter(
    "alliance_graphql_operations",
    "GraphQL operations by operation name, type (query, mutation, subscription) and outcome "
    "(ok, or error: the answer carries errors, refusals before execution included).",
    ["operation", "type", "outcome"],
)
OPERATION_SECONDS = Histogram(
    "alliance_graphql_operation_seconds",
    "Time from parsing to the answer of a query or mutation.",
    ["operation", "type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OPERATION_COST = Histogram(
    "alliance_graphql_operation_cost",
    "Estimated cost of operations (the estimate the cost limit checks: graphql/cost.py).",
    ["operation"],
    buckets=(1, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 20000),
)


class OperationNames:
    """Label values for operation names: a bounded set, first come first named."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._named: set[str] = set()

    def label(self, name: str | None) -> str:
        if not name:
            return "anonymous"
        if name in self._named:
            return name
        if len(self._named) < self._limit:
            self._named.add(name)
            return name
        return "other"


class _Costs:
    """The estimated cost of each document text, remembered (least recently used out)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._known: OrderedDict[str, int] = OrderedDict()

    def of(self, query: str, document: DocumentNode) -> int:
        cost = self._known.get(query)
        if cost is None:
            cost = self._known[query] = query_cost(document, None, MAX_PAGE)
            if len(self._known) > self._size:
                self._known.popitem(last=False)
        return cost


_names = OperationNames(MAX_NAMED_OPERATIONS)
_costs = _Costs(COSTED_DOCUMENTS)


class OperationMetrics(SchemaExtension):
    """Counts every operation, refused ones included (added first: it sees them all)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        try:
            kind = context.operation_type.value
        except RuntimeError:  # a document that did not parse has no operation type
            kind = "unknown"
        name = _names.label(context.operation_name)
        result = context.result
        failed = bool(context.pre_execution_errors) or bool(
            result is not None and getattr(result, "errors", None)
        )
        OPERATIONS.labels(name, kind, "error" if failed else "ok").inc()
        if kind != "subscription":  # a subscription's time is how long the client stayed
            OPERATION_SECONDS.labels(name, kind).observe(time.perf_counter() - started)
        if context.graphql_document is not None and context.query is not None:
            OPERATION_COST.labels(name).observe(_costs.of(context.query, context.graphql_document))
