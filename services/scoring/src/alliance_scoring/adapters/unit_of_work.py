"""Scoring's unit of work over PostgreSQL: one pooled connection and transaction per batch, the
repositories over the batched statements of `store.py`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from alliance_contracts.events import CaseInput, ClinicalSignal, ResponseScored, SignalWithdrawn
from alliance_platform.outbox import Connection
from alliance_platform.unit_of_work import (
    PostgresConfigurationVersions,
    PostgresProcessedEvents,
    PostgresUnitOfWork,
)
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
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def get(self, keys: Iterable[CaseKey]) -> dict[CaseKey, CaseState]:
        return await load_cases(self.conn, keys)

    async def save(
        self, cases: Iterable[CaseState], now: datetime, refolded: Iterable[CaseKey] = ()
    ) -> None:
        await save_cases(self.conn, cases, now, refolded)


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
    processed: PostgresProcessedEvents
    configurations: PostgresConfigurationVersions
    cases: PostgresCases
    inputs: PostgresInputs
    scores: PostgresScores
    signals: PostgresSignals

    def bind(self, conn: Connection) -> None:
        self.processed = PostgresProcessedEvents(conn, self.schema, self.consumed)
        self.configurations = PostgresConfigurationVersions(conn, self.schema)
        self.cases = PostgresCases(conn)
        self.inputs = PostgresInputs(conn)
        self.scores = PostgresScores(conn)
        self.signals = PostgresSignals(conn)
