"""What a use case needs from the request it serves, and the errors meant for the client.

The per-request context (entrypoints/context.py) provides it; the use cases see only this
protocol, so they know nothing of Strawberry or FastAPI.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from alliance_contracts.access import Caller
from alliance_contracts.readmodels import Alert, AlertTransition, Dyad, DyadScore
from alliance_gateway.adapters.notices import NoticeHub

K = TypeVar("K")
V = TypeVar("V")


class UserError(Exception):
    """An error whose message is meant for the client (bad arguments, not found). Every other
    error is masked."""


@dataclass
class ReadRecord:
    """Client-level data this request read, for the audit trail."""

    cases: set[tuple[str, str]] = field(default_factory=set)  # (clinic, case)
    dyads: set[uuid.UUID] = field(default_factory=set)

    def read(self, clinic_id: str, case_id: str, dyad_ids: list[uuid.UUID] | None = None) -> None:
        self.cases.add((clinic_id, case_id))
        self.dyads.update(dyad_ids or ())


class Loader(Protocol[K, V]):
    """A per-request batch loader (a DataLoader): loads within one tick share one query."""

    def load(self, key: K) -> Awaitable[V]: ...

    def load_many(self, keys: Iterable[K]) -> Awaitable[list[V]]: ...

    def prime_many(self, data: Mapping[K, V], force: bool = False) -> None:
        """Values already read (by a statement that fetched them with their parent)."""
        ...


class Relay(Protocol):
    def wake(self) -> None: ...


class Request(Protocol):
    """One request's caller and resources. DataLoaders are per request: never shared across
    users."""

    writer: asyncpg.Pool  # the gateway's own schema: audit and commands
    relay: Relay  # publishes what was written to the gateway's outbox
    hub: NoticeHub
    reads: ReadRecord

    @property
    def caller(self) -> Caller: ...

    def operation(self) -> AbstractAsyncContextManager[object]:
        """One operation: its reads share one snapshot, which ends with it."""
        ...

    def snapshot(self) -> AbstractAsyncContextManager[AsyncSession]:
        """The operation's snapshot of the read models (one read-only REPEATABLE READ
        transaction), for statements in turn: never wait on a loader inside."""
        ...

    async def audit(self, write: Callable[[asyncpg.Connection], Awaitable[None]]) -> None:
        """Runs `write` (the audit records) in the operation's snapshot transaction, which
        commits with it; when no snapshot is open, in a transaction of its own. Published
        after the commit."""
        ...

    async def end_snapshot(self) -> None:
        """Ends the current snapshot (a subscription pushed an event); the next read opens
        another."""
        ...

    def dyads_loader(self) -> Loader[tuple[str, str], list[Dyad]]: ...

    def timeline_loader(self) -> Loader[uuid.UUID, list[DyadScore]]: ...

    def history_loader(self) -> Loader[uuid.UUID, list[AlertTransition]]: ...

    def active_alerts_loader(self) -> Loader[tuple[str, str], list[Alert]]: ...
