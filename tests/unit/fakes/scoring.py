"""Scoring's unit of work in memory."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from alliance_contracts.events import CaseInput, ClinicalSignal, ResponseScored, SignalWithdrawn
from alliance_scoring.application.ports import CaseKey
from alliance_scoring.domain.history import Correction, PublishedSignal
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

    async def save(
        self, cases: Iterable[CaseState], now: datetime, refolded: Iterable[CaseKey] = ()
    ) -> None:
        for case in cases:
            self.states[(case.clinic_id, case.case_id)] = case
            self.saved_at[(case.clinic_id, case.case_id)] = now


@dataclass
class FakeInputs:
    events: dict[uuid.UUID, CaseInput] = field(default_factory=dict)

    async def add(self, events: Sequence[CaseInput]) -> None:
        self.events.update((e.event_id, e) for e in events)

    async def history(self, keys: Iterable[CaseKey]) -> dict[CaseKey, list[CaseInput]]:
        wanted = set(keys)
        history: dict[CaseKey, list[CaseInput]] = {}
        for e in self.events.values():
            if (e.clinic_id, e.case_id) in wanted:
                history.setdefault((e.clinic_id, e.case_id), []).append(e)
        return history


@dataclass
class FakeScores:
    scored: list[ResponseScored] = field(default_factory=list)
    status: dict[uuid.UUID, str] = field(default_factory=dict)  # by source event

    async def add(self, scored: Sequence[ResponseScored]) -> None:
        self.scored.extend(scored)

    async def correct(self, corrections: Sequence[Correction]) -> None:
        for c in corrections:
            self.status[c.superseded] = "voided" if c.voided else "amended"


@dataclass
class FakeSignals:
    signals: list[ClinicalSignal] = field(default_factory=list)
    content_of: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    withdrawn: dict[uuid.UUID, SignalWithdrawn] = field(default_factory=dict)

    async def add(
        self, signals: Sequence[ClinicalSignal], content_of: Mapping[uuid.UUID, uuid.UUID]
    ) -> None:
        self.signals.extend(signals)
        self.content_of.update(content_of)

    async def published(self, keys: Iterable[CaseKey]) -> dict[CaseKey, list[PublishedSignal]]:
        wanted = set(keys)
        published: dict[CaseKey, list[PublishedSignal]] = {}
        for s in self.signals:
            if (s.clinic_id, s.case_id) in wanted:
                published.setdefault((s.clinic_id, s.case_id), []).append(
                    PublishedSignal(
                        s.event_id,
                        self.content_of.get(s.event_id, s.event_id),
                        s.payload.kind,
                        s.payload.summary,
                        s.event_id in self.withdrawn,
                    )
                )
        return published

    async def withdraw(self, withdrawn: Sequence[SignalWithdrawn]) -> None:
        self.withdrawn.update((w.payload.signal_id, w) for w in withdrawn)

    def holding(self) -> list[ClinicalSignal]:
        """The live signals, each under its content's id (as a fold in order publishes it)."""
        return [
            s.model_copy(update={"event_id": self.content_of.get(s.event_id, s.event_id)})
            for s in self.signals
            if s.event_id not in self.withdrawn
        ]


class FakeScoringUnitOfWork(FakeUnitOfWork):
    repositories: ClassVar[tuple[str, ...]] = (
        "outbox",
        "processed",
        "configurations",
        "cases",
        "inputs",
        "scores",
        "signals",
    )

    def __init__(self) -> None:
        super().__init__()
        self.processed = FakeProcessedEvents()
        self.configurations = FakeConfigurationVersions()
        self.cases = FakeCases()
        self.inputs = FakeInputs()
        self.scores = FakeScores()
        self.signals = FakeSignals()
