"""Scoring's unit of work over PostgreSQL: one pooled connection and transaction per batch, the
repositories over the batched statements of `store.py`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import asyncpg

from alliance_contracts.events import ClinicalSignal, ResponseScored
from alliance_platform.outbox import Connection
from alliance_platform.unit_of_work import (
    PostgresConfigurationVersions,
    PostgresProcessedEvents,
    PostgresUnitOfWork,
)
from alliance_scoring.adapters.store import insert_scores, insert_signals, load_cases, save_cases
from alliance_scoring.adapters.tables import SCHEMA
from alliance_scoring.application.ports import CaseKey
from alliance_scoring.domain.state import CaseState


class PostgresCases:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def get(self, keys: Iterable[CaseKey]) -> dict[CaseKey, CaseState]:
        return await load_cases(self.conn, keys)

    async def save(self, cases: Iterable[CaseState], now: datetime) -> None:
        await save_cases(self.conn, cases, now)


class PostgresScores:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def add(self, scored: Sequence[ResponseScored]) -> None:
        await insert_scores(self.conn, scored)


class PostgresSignals:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def add(self, signals: Sequence[ClinicalSignal]) -> None:
        await insert_signals(self.conn, signals)


class PostgresScoringUnitOfWork(PostgresUnitOfWork):
    processed: PostgresProcessedEvents
    configurations: PostgresConfigurationVersions
    cases: PostgresCases
    scores: PostgresScores
    signals: PostgresSignals

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool, SCHEMA)

    def bind(self, conn: Connection) -> None:
        self.processed = PostgresProcessedEvents(conn, SCHEMA)
        self.configurations = PostgresConfigurationVersions(conn, SCHEMA)
        self.cases = PostgresCases(conn)
        self.scores = PostgresScores(conn)
        self.signals = PostgresSignals(conn)
