"""Schema extensions: the read audit, the query-cost and depth limits and error masking."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from graphql import GraphQLError, ValidationContext, ValidationRule
from strawberry.extensions import AddValidationRules, MaskErrors, SchemaExtension

from alliance_contracts.access import NotAllowed
from alliance_gateway.adapters.writes import record_reads
from alliance_gateway.domain.cost import query_cost, query_depth
from alliance_gateway.entrypoints.context import Context, UserError

log = logging.getLogger(__name__)


class ReadAudit(SchemaExtension):
    """After an operation that read client-level data: one append-only audit record per clinic
    (who, which cases and dyads, when, from where, which operation), also published."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        ctx = self.execution_context.context
        if not isinstance(ctx, Context) or not ctx.reads.cases:
            return
        request = ctx.request
        address = request.client.host if request is not None and request.client else None
        await record_reads(
            ctx.writer,
            ctx.caller,
            ctx.reads.cases,
            ctx.reads.dyads,
            self.execution_context.operation_name,
            address,
            datetime.now(UTC),
        )
        ctx.relay.wake()


class CostLimit(AddValidationRules):
    """Rejects, before execution, queries whose estimated cost exceeds `max_cost`. Page sizes
    given as variables count as the largest page (variables are not known at validation)."""

    def __init__(self, max_cost: int, largest_page: int) -> None:
        class CostRule(ValidationRule):
            def __init__(self, context: ValidationContext) -> None:
                cost = query_cost(context.document, None, largest_page)
                if cost > max_cost:
                    context.report_error(
                        GraphQLError(f"query cost {cost} exceeds the limit of {max_cost}")
                    )
                super().__init__(context)

        super().__init__([CostRule])


class TotalDepthLimit(AddValidationRules):
    """Limits the nesting of every field, introspection included (Strawberry's depth limiter
    skips introspection). The standard introspection query (GraphiQL's) is 15 deep."""

    def __init__(self, max_depth: int = 15) -> None:
        class DepthRule(ValidationRule):
            def __init__(self, context: ValidationContext) -> None:
                depth = query_depth(context.document)
                if depth > max_depth:
                    context.report_error(
                        GraphQLError(f"query depth {depth} exceeds the limit of {max_depth}")
                    )
                super().__init__(context)

        super().__init__([DepthRule])


def _should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:  # syntax, validation, limits: they name the problem, no internals
        return False
    if isinstance(original, UserError | NotAllowed):
        return False
    log.error("masked an internal error", exc_info=original)
    return True


def mask_errors() -> MaskErrors:
    return MaskErrors(should_mask_error=_should_mask, error_message="Unexpected error.")
