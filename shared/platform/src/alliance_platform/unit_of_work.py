"""The unit of work: one use case, one transaction, its repositories as attributes.

    async with uow:                  # a connection and a transaction
        fresh = await uow.processed.claim(events)
        ...
        await uow.outbox.add(messages)
        await uow.commit()           # leaving without commit rolls back

Use cases depend on these protocols (and their service's `application/ports.py`), so a unit
test passes an in-memory fake; the entrypoints build the PostgreSQL one (`PostgresUnitOfWork`,
extended by each service's `adapters/unit_of_work.py`). A unit of work can be entered again
after it is left: each `async with` is a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

import asyncpg
from asyncpg.transaction import Transaction

from alliance_contracts.events import ClinicConfigured, EventEnvelope
from alliance_platform import tracing
from alliance_platform.config_store import Resolve, configuration_resolver, save_configurations
from alliance_platform.outbox import Connection, OutboxMessage, claim_new_events, enqueue
from alliance_platform.tracking import Consumed, claim_consumed, consumed_before

E = TypeVar("E", bound=EventEnvelope)


class UnitOfWork(Protocol):
    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class Outbox(Protocol):
    """Events to publish, committed with the state that produced them."""

    async def add(self, messages: Sequence[OutboxMessage]) -> None: ...


class ProcessedEvents(Protocol):
    """Exactly-once consumption: the ids of the events already applied."""

    async def claim(self, events: Sequence[E]) -> list[E]:
        """Records the events as processed; returns those to apply now, in their order: not
        seen before (and, for a tracked consumer, not below the stored positions nor parked)."""
        ...

    @property
    def to_commit(self) -> bool:
        """The last claim stored something (consumed positions, parked records) that its
        transaction must commit even when no event is to be applied."""
        ...


class ConfigurationVersions(Protocol):
    """A consumer's copy of the clinics' configuration versions (from the config topic)."""

    async def save(self, events: Sequence[ClinicConfigured]) -> None: ...

    async def resolver(self, stamps: Iterable[tuple[str, int]]) -> Resolve:
        """For a batch's (clinic, stamped version) pairs; raises ConfigurationNotYetKnown."""
        ...


class PostgresOutbox:
    def __init__(self, conn: Connection, schema: str) -> None:
        self.conn, self.schema = conn, schema

    async def add(self, messages: Sequence[OutboxMessage]) -> None:
        await enqueue(self.conn, self.schema, messages)


class PublishedByTheLiveGeneration:
    """The outbox of a batch that a generation building beside the live one folds after the
    live one did: the live one has published what it derives (decision 0011)."""

    async def add(self, messages: Sequence[OutboxMessage]) -> None:
        return None


class PostgresProcessedEvents:
    """With `consumed` (a tracked consumer's batch), the claim also fences by the stored
    positions, parks what waits and advances the positions (`tracking.claim_consumed`)."""

    def __init__(
        self, conn: Connection, schema: str, consumed: Consumed[Any] | None = None
    ) -> None:
        self.conn, self.schema, self.consumed = conn, schema, consumed
        self.to_commit = False

    async def claim(self, events: Sequence[E]) -> list[E]:
        if self.consumed is not None:
            self.to_commit = True
            return await claim_consumed(self.conn, self.schema, self.consumed, events)
        return await claim_new_events(self.conn, self.schema, events)


class PostgresConfigurationVersions:
    def __init__(self, conn: Connection, schema: str) -> None:
        self.conn, self.schema = conn, schema

    async def save(self, events: Sequence[ClinicConfigured]) -> None:
        await save_configurations(self.conn, self.schema, events)

    async def resolver(self, stamps: Iterable[tuple[str, int]]) -> Resolve:
        return await configuration_resolver(self.conn, self.schema, stamps)


class PostgresUnitOfWork:
    """A pooled connection and one transaction per `async with`, as `pool.acquire()` with
    `conn.transaction()` would give (the same statements: BEGIN, the work, COMMIT or ROLLBACK).
    Subclasses build their repositories over the connection in `bind`.

    A projection's unit of work: `pool` has `search_path` = `schema`, the generation's slot (the
    statements of its `store.py` name their tables unqualified; `alliance_platform.projector`).
    `frontier`: while a projection generation builds beside the live one, the live one's slot.
    A batch the live one has consumed already enqueues nothing (`PublishedByTheLiveGeneration`).
    """

    outbox: Outbox

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        consumed: Consumed[Any] | None = None,
        frontier: str | None = None,
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.consumed = consumed  # the batch a consumer's use case claims, if any
        self.frontier = frontier
        self._conn: asyncpg.pool.PoolConnectionProxy | None = None
        self._transaction: Transaction | None = None
        self._traced: AbstractContextManager[object] | None = None

    def bind(self, conn: Connection) -> None:
        """Sets the repositories for this transaction (the outbox is already there)."""

    async def __aenter__(self) -> Self:
        self._traced = tracing.transaction(self.schema)  # a span while the transaction lasts
        self._traced.__enter__()
        try:
            conn = await self.pool.acquire()
        except BaseException as exc:
            self._traced.__exit__(type(exc), exc, exc.__traceback__)
            raise
        try:
            transaction = conn.transaction()
            await transaction.start()
            self.outbox = PostgresOutbox(conn, self.schema)
            frontier, consumed = self.frontier, self.consumed
            if frontier and consumed and await consumed_before(conn, frontier, consumed.ends):
                self.outbox = PublishedByTheLiveGeneration()
        except BaseException as exc:
            await self.pool.release(conn)  # its transaction, if any, is rolled back
            self._traced.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._conn, self._transaction = conn, transaction
        self.bind(conn)
        return self

    async def commit(self) -> None:
        transaction, self._transaction = self._transaction, None
        if transaction is None:
            raise RuntimeError("no transaction to commit: use `async with` first")
        await transaction.commit()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, transaction = self._conn, self._transaction
        self._conn = self._transaction = None
        try:
            if transaction is not None:  # not committed: nothing of it stays
                await transaction.rollback()
        finally:
            if conn is not None:
                await self.pool.release(conn)
            traced, self._traced = self._traced, None
            if traced is not None:
                traced.__exit__(exc_type, exc, tb)
