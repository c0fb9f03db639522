"""Scoring's unit of work over PostgreSQL: one pooled connection and transaction per batch, the
repositories over the batched statements of `store.py`; the case states its consumer committed
last are read from memory (`hot_cases.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

import asyncpg

from alliance_contracts.events import CaseInput, ClinicalSignal, ResponseScored, SignalWithdrawn
from alliance_platform.outbox import Connection
from alliance_platform.tracking import Consumed
from alliance_platform.unit_of_work import (
    PostgresConfigurationVersions,
    PostgresProcessedEvents,
    PostgresUnitOfWork,
)
from alliance_scoring.adapters.hot_cases import HotCases
from alliance_scoring.adapters.store import (
    correct_scores,
    insert_inputs,
    insert_scores,
    insert_signals,
    load_cases,
    load_inputs,
    published_signals,
    save_cases,
    withdraw_signals,
)
from alliance_scoring.application.ports import CaseKey
from alliance_scoring.domain.history import Correction, PublishedSignal
from alliance_scoring.domain.state import CaseState


class PostgresCases:
    """`hot`: the states committed last, read instead of `case_state`; what this transaction
    saves goes there once it commits (`PostgresScoringUnitOfWork.commit`)."""

    def __init__(self, conn: Connection, hot: HotCases) -> None:
        self.conn, self.hot = conn, hot
        self.epoch = hot.epoch  # when the transaction began
        self.saved: list[CaseState] = []

    async def get(self, keys: Iterable[CaseKey]) -> dict[CaseKey, CaseState]:
        keys = list(keys)
        found = self.hot.get(keys)
        missing = [k for k in keys if k not in found]
        if missing:
            found.update(await load_cases(self.conn, missing))
        return found

    async def save(
        self, cases: Iterable[CaseState], now: datetime, refolded: Iterable[CaseKey] = ()
    ) -> None:
        cases = list(cases)
        await save_cases(self.conn, cases, now, refolded)
        self.saved.extend(cases)


class PostgresInputs:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def add(self, events: Sequence[CaseInput]) -> None:
        await insert_inputs(self.conn, events)

    async def history(self, keys: Iterable[CaseKey]) -> dict[CaseKey, list[CaseInput]]:
        return await load_inputs(self.conn, keys)


class PostgresScores:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def add(self, scored: Sequence[ResponseScored]) -> None:
        await insert_scores(self.conn, scored)

    async def correct(self, corrections: Sequence[Correction]) -> None:
        if corrections:
            await correct_scores(self.conn, corrections)


class PostgresSignals:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def add(
        self, signals: Sequence[ClinicalSignal], content_of: Mapping[uuid.UUID, uuid.UUID]
    ) -> None:
        await insert_signals(self.conn, signals, content_of)

    async def published(self, keys: Iterable[CaseKey]) -> dict[CaseKey, list[PublishedSignal]]:
        return await published_signals(self.conn, keys)

    async def withdraw(self, withdrawn: Sequence[SignalWithdrawn]) -> None:
        if withdrawn:
            await withdraw_signals(self.conn, withdrawn)


class PostgresScoringUnitOfWork(PostgresUnitOfWork):
    """`hot`: the generation's case states in memory (none kept by default)."""

    processed: PostgresProcessedEvents
    configurations: PostgresConfigurationVersions
    cases: PostgresCases
    inputs: PostgresInputs
    scores: PostgresScores
    signals: PostgresSignals

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        consumed: Consumed[Any] | None = None,
        frontier: str | None = None,
        hot: HotCases | None = None,
    ) -> None:
        super().__init__(pool, schema, consumed, frontier)
        self.hot = hot if hot is not None else HotCases(capacity=0)

    def bind(self, conn: Connection) -> None:
        self.processed = PostgresProcessedEvents(conn, self.schema, self.consumed)
        self.configurations = PostgresConfigurationVersions(conn, self.schema)
        self.cases = PostgresCases(conn, self.hot)
        self.inputs = PostgresInputs(conn)
        self.scores = PostgresScores(conn)
        self.signals = PostgresSignals(conn)

    async def commit(self) -> None:
        cases = self.cases
        try:
            await super().commit()
        except BaseException:
            # Committed or not: unknown. The states are read back from the database.
            self.hot.drop((c.clinic_id, c.case_id) for c in cases.saved)
            cases.saved = []
            raise
        self.hot.put(cases.saved, cases.epoch)
        cases.saved = []

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:  # saved but not committed: rolled back, so none of it is kept
            self.hot.drop((c.clinic_id, c.case_id) for c in self.cases.saved)
            self.cases.saved = []
