"""What scoring's use cases need from storage, as protocols: `adapters/` implements them over
PostgreSQL, the unit tests in memory."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from alliance_contracts.events import ClinicalSignal, ResponseScored
from alliance_platform.unit_of_work import (
    ConfigurationVersions,
    Outbox,
    ProcessedEvents,
    UnitOfWork,
)
from alliance_scoring.domain.state import CaseState

# A case is (clinic id, case id): case ids are unique only within a clinic.
CaseKey = tuple[str, str]


class Cases(Protocol):
    """Each case's fold state, with the read models written from it."""

    async def get(self, keys: Iterable[CaseKey]) -> dict[CaseKey, CaseState]:
        """The stored ones among them (a case seen for the first time is absent)."""
        ...

    async def save(self, cases: Iterable[CaseState], now: datetime) -> None: ...


class Scores(Protocol):
    async def add(self, scored: Sequence[ResponseScored]) -> None: ...


class Signals(Protocol):
    async def add(self, signals: Sequence[ClinicalSignal]) -> None: ...


class ScoringUnitOfWork(UnitOfWork, Protocol):
    @property
    def processed(self) -> ProcessedEvents: ...

    @property
    def configurations(self) -> ConfigurationVersions: ...

    @property
    def cases(self) -> Cases: ...

    @property
    def scores(self) -> Scores: ...

    @property
    def signals(self) -> Signals: ...

    @property
    def outbox(self) -> Outbox: ...
