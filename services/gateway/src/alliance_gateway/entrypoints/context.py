"""The per-request context: the caller, the operation's read snapshot, DataLoaders and the audit
record. It is the `Request` the use cases take (application/request.py)."""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from alliance_contracts.access import Caller, NotAllowed
from alliance_contracts.readmodels import AlertTransition, Dyad, DyadScore
from alliance_gateway.adapters import queries
from alliance_gateway.adapters.notices import NoticeHub
from alliance_gateway.adapters.snapshot import current_snapshot, snapshot_of_operation
from alliance_gateway.application.request import ReadRecord, Request
from alliance_platform.outbox import OutboxRelay


class Context(BaseContext, Request):
    """Fresh per request: DataLoaders are never shared across users. (Subclassing `Request`
    makes mypy check that it is what the use cases take.)"""

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
        self._loaders: dict[str, DataLoader[Any, Any]] = {}

    @property
    def caller(self) -> Caller:
        if self._caller is None:
            raise NotAllowed()
        return self._caller

    @caller.setter
    def caller(self, caller: Caller) -> None:
        self._caller = caller

    def operation(self) -> AbstractAsyncContextManager[object]:
        return snapshot_of_operation(self.sessions)

    def snapshot(self) -> AbstractAsyncContextManager[AsyncSession]:
        snapshot = current_snapshot.get()
        if snapshot is None:  # fail closed: every read belongs to an operation's snapshot
            raise RuntimeError("a read outside a GraphQL operation")
        return snapshot.session()

    async def end_snapshot(self) -> None:
        snapshot = current_snapshot.get()
        if snapshot is not None:
            await snapshot.close()

    def dyads_loader(self) -> DataLoader[tuple[str, str], list[Dyad]]:
        if "dyads" not in self._loaders:

            async def load(keys: list[tuple[str, str]]) -> list[list[Dyad]]:
                async with self.snapshot() as session:
                    return await queries.dyads_of_cases(session, self.caller, keys)

            self._loaders["dyads"] = DataLoader(load_fn=load)
        return self._loaders["dyads"]

    def timeline_loader(self) -> DataLoader[uuid.UUID, list[DyadScore]]:
        if "timeline" not in self._loaders:

            async def load(dyad_ids: list[uuid.UUID]) -> list[list[DyadScore]]:
                async with self.snapshot() as session:
                    return await queries.dyad_timelines(session, self.caller, dyad_ids)

            self._loaders["timeline"] = DataLoader(load_fn=load)
        return self._loaders["timeline"]

    def history_loader(self) -> DataLoader[uuid.UUID, list[AlertTransition]]:
        if "history" not in self._loaders:

            async def load(alert_ids: list[uuid.UUID]) -> list[list[AlertTransition]]:
                async with self.snapshot() as session:
                    return await queries.alert_histories(session, self.caller, alert_ids)

            self._loaders["history"] = DataLoader(load_fn=load)
        return self._loaders["history"]
