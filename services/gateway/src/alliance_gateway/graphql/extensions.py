"""Schema extensions that run around every operation: its read snapshot with its read audit,
error masking, and while tracing is on its spans. (The limits that refuse a query before it runs
are in cost.py.)"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Generator
from typing import Any

from graphql import GraphQLError
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from strawberry.extensions import LifecycleStep, MaskErrors, SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension
from strawberry.types import StreamExecutionResult

from alliance_contracts.access import NotAllowed
from alliance_gateway.application import reads
from alliance_gateway.application.request import ReadRecord, Request, UserError
from alliance_platform import tracing

log = logging.getLogger(__name__)


class OneSnapshot(SchemaExtension):
    """Every read of one operation comes from one snapshot of the read models, ended with the
    operation; a subscription ends it after each event it pushes. The operation's read audit
    (application) is written in that snapshot's transaction before it commits."""

    async def on_operation(self) -> AsyncIterator[None]:
        ctx: Request | None = self.execution_context.context
        if not isinstance(getattr(ctx, "reads", None), ReadRecord) or ctx is None:
            yield  # not a request's context: it reads nothing
            return
        async with ctx.operation():
            yield
            connection = getattr(ctx, "request", None)  # the HTTP request or the WebSocket
            client = getattr(connection, "client", None)
            address = client.host if client else None
            await reads.record_reads(ctx, self.execution_context.operation_name, address)

    async def on_stream_result(self, result: StreamExecutionResult) -> AsyncIterator[None]:
        yield
        ctx: Request | None = self.execution_context.context
        if isinstance(getattr(ctx, "reads", None), ReadRecord) and ctx is not None:
            await ctx.end_snapshot()


def is_for_the_client(error: GraphQLError) -> bool:
    """Bad arguments and denials are the client's business: neither masked nor logged."""
    return isinstance(error.original_error, UserError | NotAllowed)


def _should_mask(error: GraphQLError) -> bool:
    if error.original_error is None:  # syntax, validation, limits: they name the problem
        return False
    if is_for_the_client(error):
        return False
    log.error("masked an internal error", exc_info=error.original_error)
    return True


def mask_errors() -> MaskErrors:
    return MaskErrors(should_mask_error=_should_mask, error_message="Unexpected error.")


class TracedOperation(OpenTelemetryExtension):
    """Strawberry's OpenTelemetry spans (the operation, parsing, validation, each resolver) in
    the HTTP request's trace, with names and paths only: neither the document nor the
    arguments, which may quote what a user typed (decision 0025)."""

    def __init__(self, *, execution_context: Any = None) -> None:
        super().__init__(
            execution_context=execution_context,
            arg_filter=lambda _args, _info: {},
            tracer_provider=tracing.provider(),
        )

    def on_operation(self) -> Generator[None, None, None]:
        name = self.execution_context.operation_name
        span = self._tracer.start_span(f"GraphQL {name or 'operation'}", kind=SpanKind.INTERNAL)
        self._span_holder[LifecycleStep.OPERATION] = span
        with trace.use_span(span, end_on_exit=True):
            yield
            if not name and self.execution_context.operation_name:
                span.update_name(f"GraphQL {self.execution_context.operation_name}")


def traced() -> list[Any]:
    """The tracing extension while tracing is on; none at all (no cost) while it is off."""
    return [TracedOperation] if tracing.enabled() else []
