"""Intake's unit of work in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from alliance_contracts.clinical_config import DEFAULT_CONFIG, ClinicalConfig
from alliance_contracts.events import ClinicConfigured, EventEnvelope
from alliance_intake.application.ports import CurrentConfiguration, Recorded
from alliance_intake.domain.submission import Accepted
from tests.unit.fakes.platform import FakeUnitOfWork


@dataclass
class FakeSubmissions:
    recorded_by_key: dict[tuple[str, str], Recorded] = field(default_factory=dict)
    events: list[EventEnvelope] = field(default_factory=list)

    async def add(self, clinic_id: str, key: str, accepted: Accepted) -> bool:
        if (clinic_id, key) in self.recorded_by_key:
            return False
        self.recorded_by_key[(clinic_id, key)] = Recorded(
            accepted.event.event_id, accepted.fingerprint
        )
        self.events.append(accepted.event)
        return True

    async def recorded(self, clinic_id: str, key: str) -> Recorded:
        return self.recorded_by_key[(clinic_id, key)]


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
    repositories: ClassVar[tuple[str, ...]] = ("outbox", "submissions", "configurations")

    def __init__(self) -> None:
        super().__init__()
        self.submissions = FakeSubmissions()
        self.configurations = FakeClinicConfigurations()
