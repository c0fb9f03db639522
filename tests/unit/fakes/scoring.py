"""Scoring's unit of work in memory."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from alliance_contracts.events import ClinicalSignal, ResponseScored
from alliance_scoring.application.ports import CaseKey
from alliance_scoring.domain.state import CaseState
from tests.unit.fakes.platform import (
    FakeConfigurationVersions,
    FakeProcessedEvents,
    FakeUnitOfWork,
)


@dataclass
class FakeCases:
    states: dict[CaseKey, CaseState] = field(default_factory=dict)
    saved_at: dict[CaseKey, datetime] = field(default_factory=dict)

    async def get(self, keys: Iterable[CaseKey]) -> dict[CaseKey, CaseState]:
        return {key: self.states[key] for key in keys if key in self.states}

    async def save(self, cases: Iterable[CaseState], now: datetime) -> None:
        for case in cases:
            self.states[(case.clinic_id, case.case_id)] = case
            self.saved_at[(case.clinic_id, case.case_id)] = now


@dataclass
class FakeScores:
    scored: list[ResponseScored] = field(default_factory=list)

    async def add(self, scored: Sequence[ResponseScored]) -> None:
        self.scored.extend(scored)


@dataclass
class FakeSignals:
    signals: list[ClinicalSignal] = field(default_factory=list)

    async def add(self, signals: Sequence[ClinicalSignal]) -> None:
        self.signals.extend(signals)


class FakeScoringUnitOfWork(FakeUnitOfWork):
    repositories: ClassVar[tuple[str, ...]] = (
        "outbox",
        "processed",
        "configurations",
        "cases",
        "scores",
        "signals",
    )

    def __init__(self) -> None:
        super().__init__()
        self.processed = FakeProcessedEvents()
        self.configurations = FakeConfigurationVersions()
        self.cases = FakeCases()
        self.scores = FakeScores()
        self.signals = FakeSignals()
