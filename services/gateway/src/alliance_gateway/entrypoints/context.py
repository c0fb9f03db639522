"""The per-request context: the caller, the operation's read snapshot, DataLoaders and the audit
record. It is the `Request` the use cases take (application/request.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar, cast

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from alliance_contracts.access import Caller, NotAllowed
from alliance_contracts.readmodels import Alert, AlertTransition, Dyad, DyadScore
from alliance_gateway.adapters import queries
from alliance_gateway.adapters.notices import NoticeHub
from alliance_gateway.adapters.snapshot import (
    ReadSnapshot,
    current_snapshot,
    snapshot_of_operation,
)
from alliance_gateway.application.request import ReadRecord, Request
from alliance_platform.outbox_relay import OutboxRelay

K = TypeVar("K")
V = TypeVar("V")


class Context(BaseContext, Request):
    """Fresh per request (per connection on a WebSocket); DataLoaders are per operation, never
    shared across users. (Subclassing `Request` makes mypy check that it is what the use cases
    take.)"""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        caller: Caller | None,
        writer: asyncpg.Pool,
        relay: OutboxRelay,
        hub: NoticeHub,
    ) -> None:
        super().__init__()
        self.sessions = sessions
        # None only on a WebSocket before connection_init has been authenticated.
        self._caller = caller
        self.hub = hub
        self.writer = writer  # the gateway's own schema: audit and commands
        self.relay = relay
        self.reads = ReadRecord()

    @property
    def caller(self) -> Caller:
        if self._caller is None:
            raise NotAllowed()
        return self._caller

    @caller.setter
    def caller(self, caller: Caller) -> None:
        self._caller = caller

    @asynccontextmanager
    async def operation(self) -> AsyncIterator[object]:
        # An authenticated caller's reads may be audited in the snapshot's transaction.
        async with snapshot_of_operation(self.sessions, writable=self._caller is not None) as op:
            yield op
            audited = op.written
        if audited:  # committed: the relay publishes the audit events
            self.relay.wake()

    async def audit(self, write: Callable[[asyncpg.Connection], Awaitable[None]]) -> None:
        snapshot = current_snapshot.get()
        if snapshot is None or not await snapshot.write(write):
            async with self.writer.acquire() as conn, conn.transaction():
                await write(cast(asyncpg.Connection, conn))
            self.relay.wake()

    def _snapshot(self) -> ReadSnapshot:
        snapshot = current_snapshot.get()
        if snapshot is None:  # fail closed: every read belongs to an operation's snapshot
            raise RuntimeError("a read outside a GraphQL operation")
        return snapshot

    def snapshot(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self._snapshot().session()

    async def end_snapshot(self) -> None:
        snapshot = current_snapshot.get()
        if snapshot is not None:
            await snapshot.close()

    def _loader(
        self, name: str, query: Callable[[AsyncSession, Caller, list[K]], Awaitable[list[V]]]
    ) -> DataLoader[K, V]:
        """The operation's DataLoader of one query (per operation, not per connection: a
        WebSocket's operations share this context, and a cache must not outlive its snapshot)."""
        loaders = self._snapshot().loaders
        if name not in loaders:

            async def load(keys: list[K]) -> list[V]:
                async with self.snapshot() as session:
                    return await query(session, self.caller, keys)

            loaders[name] = DataLoader(load_fn=load)
        loader: DataLoader[K, V] = loaders[name]
        return loader

    def dyads_loader(self) -> DataLoader[tuple[str, str], list[Dyad]]:
        return self._loader("dyads", queries.dyads_of_cases)

    def timeline_loader(self) -> DataLoader[uuid.UUID, list[DyadScore]]:
        return self._loader("timeline", queries.dyad_timelines)

    def history_loader(self) -> DataLoader[uuid.UUID, list[AlertTransition]]:
        return self._loader("history", queries.alert_histories)

    def active_alerts_loader(self) -> DataLoader[tuple[str, str], list[Alert]]:
        return self._loader("active_alerts", queries.active_alerts_of_cases)
