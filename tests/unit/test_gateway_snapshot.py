"""Each GraphQL operation has its own snapshot and DataLoaders, also when operations share one
context (a WebSocket's); a read outside an operation is refused."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from alliance_gateway.entrypoints.context import Context


def context() -> Context:
    nothing = cast(Any, None)  # no read runs here: nothing is connected
    return Context(nothing, None, nothing, nothing, nothing)


async def test_operations_sharing_a_context_have_their_own_loaders() -> None:
    ctx = context()
    seen: dict[str, list[object]] = {}

    async def operation(name: str) -> None:
        async with ctx.operation():
            first = ctx.dyads_loader()
            await asyncio.sleep(0)  # the other operation runs meanwhile
            seen[name] = [first, ctx.dyads_loader(), ctx.timeline_loader()]

    await asyncio.gather(operation("a"), operation("b"))
    a, b = seen["a"], seen["b"]
    # One loader per operation, not shared between operations.
    assert a[0] is a[1]
    assert b[0] is b[1]
    assert a[0] is not b[0]
    assert a[2] is not b[2]


async def test_a_read_outside_an_operation_is_refused() -> None:
    with pytest.raises(RuntimeError, match="outside a GraphQL operation"):
        context().snapshot()
    with pytest.raises(RuntimeError):
        context().dyads_loader()
