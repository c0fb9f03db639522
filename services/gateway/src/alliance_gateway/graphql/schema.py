"""The schema: the root types, the limits and the extensions, assembled."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache
from strawberry.types import ExecutionContext

from alliance_gateway.graphql.cost import limits
from alliance_gateway.graphql.extensions import (
    OneSnapshot,
    is_for_the_client,
    mask_errors,
    traced,
)
from alliance_gateway.graphql.metrics import OperationMetrics
from alliance_gateway.graphql.mutations import Mutation
from alliance_gateway.graphql.planned import PlannedExecution
from alliance_gateway.graphql.queries import Query
from alliance_gateway.graphql.subscriptions import Subscription
from alliance_gateway.graphql.trusted import TrustedDocuments, load_registry


class AllianceSchema(strawberry.Schema):
    """Logs only unexpected errors: bad arguments and denials are the client's business."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = [e for e in errors if not is_for_the_client(e)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


def build_schema(max_cost: int = 20_000, trusted_only: bool = False) -> strawberry.Schema:
    """`trusted_only`: refuse every document but the registered ones (graphql/trusted.py)."""
    registry = load_registry()
    extensions: list[Any] = [
        OperationMetrics,  # first: it counts refused operations too
        lambda: TrustedDocuments(registry, trusted_only),  # it may supply the document
        *limits(max_cost),
        ParserCache,
        OneSnapshot,
        mask_errors,
        *traced(),
    ]
    return AllianceSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=PlannedExecution,
    )


schema = build_schema()
