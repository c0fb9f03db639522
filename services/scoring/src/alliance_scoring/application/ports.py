"""What scoring's use cases need from storage, as protocols: `adapters/` implements them over
PostgreSQL, the unit tests in memory."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from alliance_contracts.events import CaseInput, ClinicalSignal, ResponseScored, SignalWithdrawn
from alliance_platform.unit_of_work import (
    ConfigurationVersions,
    Outbox,
    ProcessedEvents,
    UnitOfWork,
)
from alliance_scoring.domain.history import Correction, PublishedSignal
from alliance_scoring.domain.state import CaseState

# A case is (clinic id, case id): case ids are unique only within a clinic.
CaseKey = tuple[str, str]


class Cases(Protocol):
    """Each case's fold state, with the read models written from it."""

    async def get(self, keys: Iterable[CaseKey]) -> dict[CaseKey, CaseState]:
        """The stored ones among them (a case seen for the first time is absent)."""
        ...

    async def save(
        self, cases: Iterable[CaseState], now: datetime, refolded: Iterable[CaseKey] = ()
    ) -> None:
        """Stores the states and their read models; for cases folded again, drops the dyads
        their history no longer has (a voided response may have been a dyad's only one)."""
        ...


class Inputs(Protocol):
    """Every case input folded so far (responses, endings, amendments, voids), so a case can
    fold again from its history."""

    async def add(self, events: Sequence[CaseInput]) -> None: ...

    async def history(self, keys: Iterable[CaseKey]) -> dict[CaseKey, list[CaseInput]]: ...


class Scores(Protocol):
    async def add(self, scored: Sequence[ResponseScored]) -> None: ...

    async def correct(self, corrections: Sequence[Correction]) -> None:
        """Marks the versions that corrections replaced (amended) or removed (voided)."""
        ...


class Signals(Protocol):
    async def add(
        self, signals: Sequence[ClinicalSignal], content_of: Mapping[uuid.UUID, uuid.UUID]
    ) -> None:
        """Stores published signals; `content_of` names the content id of those whose event id
        is not it (`history.diff_signals`)."""
        ...

    async def published(self, keys: Iterable[CaseKey]) -> dict[CaseKey, list[PublishedSignal]]:
        """Every signal published for these cases, withdrawn ones included."""
        ...

    async def withdraw(self, withdrawn: Sequence[SignalWithdrawn]) -> None: ...


class ScoringUnitOfWork(UnitOfWork, Protocol):
    @property
    def processed(self) -> ProcessedEvents: ...

    @property
    def configurations(self) -> ConfigurationVersions: ...

    @property
    def cases(self) -> Cases: ...

    @property
    def inputs(self) -> Inputs: ...

    @property
    def scores(self) -> Scores: ...

    @property
    def signals(self) -> Signals: ...

    @property
    def outbox(self) -> Outbox: ...
