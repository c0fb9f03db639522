"""Intake's unit of work in memory."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from alliance_contracts.clinical_config import DEFAULT_CONFIG, ClinicalConfig
from alliance_contracts.events import (
    ClinicConfigured,
    EventEnvelope,
    ResponseAmended,
    ResponseSubmitted,
)
from alliance_intake.application.ports import CurrentConfiguration, Recorded, StaleConfiguration
from alliance_intake.domain.correction import Correction, ResponseRecord
from alliance_intake.domain.submission import Accepted
from alliance_platform.outbox import OutboxMessage
from tests.unit.fakes.platform import FakeOutbox, FakeUnitOfWork


@dataclass
class FakeSubmissions:
    outbox: Callable[[], FakeOutbox]  # the unit of work's, as it is now
    recorded_by_key: dict[tuple[str, str], Recorded] = field(default_factory=dict)
    events: list[EventEnvelope] = field(default_factory=list)

    async def record(
        self, clinic_id: str, key: str, accepted: Accepted, message: OutboxMessage
    ) -> Recorded:
        if (clinic_id, key) not in self.recorded_by_key:
            self.recorded_by_key[(clinic_id, key)] = Recorded(
                accepted.event.event_id, accepted.fingerprint
            )
            self.events.append(accepted.event)
            await self.outbox().add([message])
        return self.recorded_by_key[(clinic_id, key)]


@dataclass
class FakeCorrections:
    """The corrections, and the gateway request each applied."""

    events: list[Correction] = field(default_factory=list)
    requests: dict[str, uuid.UUID] = field(default_factory=dict)


@dataclass
class FakeResponseRecords:
    """Responses are the submissions' response.submitted events, with their corrections."""

    submissions: FakeSubmissions
    corrections: FakeCorrections

    async def by_key(
        self, clinic_id: str, key: str, *, lock: bool = False
    ) -> ResponseRecord | None:
        recorded = self.submissions.recorded_by_key.get((clinic_id, key))
        return None if recorded is None else self._record(clinic_id, recorded.event_id)

    async def by_event_id(
        self, clinic_id: str, event_id: uuid.UUID, *, lock: bool = False
    ) -> ResponseRecord | None:
        return self._record(clinic_id, event_id)

    def _record(self, clinic_id: str, event_id: uuid.UUID) -> ResponseRecord | None:
        original = next((e for e in self.submissions.events if e.event_id == event_id), None)
        if not isinstance(original, ResponseSubmitted) or original.clinic_id != clinic_id:
            return None
        [key] = [
            k for (c, k), r in self.submissions.recorded_by_key.items() if r.event_id == event_id
        ]
        corrections = tuple(c for c in self.corrections.events if _original(c) == event_id)
        return ResponseRecord(key, original, corrections)

    async def add_correction(self, correction: Correction, request_id: str | None) -> None:
        self.corrections.events.append(correction)
        if request_id is not None:
            self.corrections.requests[request_id] = correction.event_id

    async def requested(self, request_id: str) -> uuid.UUID | None:
        return self.corrections.requests.get(request_id)


def _original(correction: Correction) -> uuid.UUID:
    if isinstance(correction, ResponseAmended):
        return correction.payload.amends
    return correction.payload.voids


@dataclass
class FakeClinicConfigurations:
    versions: dict[str, list[ClinicConfigured]] = field(default_factory=dict)
    locked: list[str] = field(default_factory=list)

    async def lock(self, clinic_id: str) -> None:
        self.locked.append(clinic_id)

    async def current(self, clinic_id: str) -> CurrentConfiguration:
        if not self.versions.get(clinic_id):
            return CurrentConfiguration(0, DEFAULT_CONFIG, None)
        latest = self.versions[clinic_id][-1].payload
        config = ClinicalConfig.model_validate(latest.configuration)
        return CurrentConfiguration(latest.version, config, latest.effective_from)

    async def add(self, event: ClinicConfigured) -> None:
        self.versions.setdefault(event.clinic_id, []).append(event)


class FakeIntakeUnitOfWork(FakeUnitOfWork):
    repositories: ClassVar[tuple[str, ...]] = (
        "outbox",
        "submissions",
        "configurations",
        "corrections",
    )

    def __init__(self) -> None:
        super().__init__()
        self.submissions = FakeSubmissions(lambda: self.outbox)
        self.configurations = FakeClinicConfigurations()
        self.corrections = FakeCorrections()

    async def record_alone(
        self,
        clinic_id: str,
        key: str,
        accepted: Accepted,
        message: OutboxMessage,
        config_version: int | None,
    ) -> Recorded | StaleConfiguration:
        """A transaction of its own, committed when it recorded something."""
        async with self:
            latest = (await self.configurations.current(clinic_id)).version
            stored = self.submissions.recorded_by_key.get((clinic_id, key))
            if stored is None and config_version is not None and config_version != latest:
                return StaleConfiguration(latest)
            found = await self.submissions.record(clinic_id, key, accepted, message)
            if found.event_id == accepted.event.event_id:
                await self.commit()
            return found

    @property
    def responses(self) -> FakeResponseRecords:
        # Built on each use: the snapshots of a rolled-back transaction are the ones it sees.
        return FakeResponseRecords(self.submissions, self.corrections)
