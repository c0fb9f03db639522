"""The alerts service's unit of work in memory."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from alliance_alerts.adapters.secret_box import Sealed
from alliance_alerts.application.ports import CaseKey
from alliance_alerts.domain.rules import Alert, AlertInput, Key
from alliance_alerts.domain.webhooks import Outcome, RotationInProgress
from alliance_contracts.events import (
    CaseAssigned,
    ClinicalSignal,
    SignalWithdrawn,
    StaffChanged,
)
from alliance_contracts.vocabulary import AlertStatus, StaffRole
from tests.unit.fakes.platform import (
    FakeConfigurationVersions,
    FakeProcessedEvents,
    FakeUnitOfWork,
)


@dataclass
class FakeAlerts:
    by_alert_id: dict[uuid.UUID, Alert] = field(default_factory=dict)

    async def active(self, cases: Iterable[CaseKey]) -> dict[CaseKey, dict[Key, Alert]]:
        wanted = set(cases)
        by_case: dict[CaseKey, dict[Key, Alert]] = {}
        for a in self.by_alert_id.values():
            if (a.clinic_id, a.case_id) in wanted and a.is_active:
                by_case.setdefault((a.clinic_id, a.case_id), {})[(a.kind, a.subject)] = a
        return by_case

    async def by_id(self, alert_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Alert]:
        return {i: self.by_alert_id[i] for i in alert_ids if i in self.by_alert_id}

    async def due(self, now: datetime, limit: int) -> list[Alert]:
        due = [
            a
            for a in self.by_alert_id.values()
            if a.status is AlertStatus.OPEN
            and not a.escalated
            and a.escalate_at is not None
            and a.escalate_at <= now
        ]
        return sorted(due, key=lambda a: a.escalate_at or now)[:limit]

    async def save(self, alerts: Sequence[Alert]) -> None:
        self.by_alert_id.update((a.alert_id, a) for a in alerts)


@dataclass
class FakeCaseSignals:
    signals: dict[uuid.UUID, ClinicalSignal] = field(default_factory=dict)
    withdrawn: set[uuid.UUID] = field(default_factory=set)

    async def add(self, signals: Sequence[ClinicalSignal]) -> None:
        self.signals.update((s.event_id, s) for s in signals)

    async def withdraw(self, withdrawn: Sequence[SignalWithdrawn]) -> None:
        self.withdrawn.update(w.payload.signal_id for w in withdrawn)

    async def latest(self, cases: Iterable[CaseKey]) -> dict[CaseKey, datetime]:
        wanted = set(cases)
        latest: dict[CaseKey, datetime] = {}
        for s in self.signals.values():
            key = (s.clinic_id, s.case_id)
            if key in wanted:
                latest[key] = max(latest.get(key, s.occurred_at), s.occurred_at)
        return latest

    async def live(self, cases: Iterable[CaseKey]) -> dict[CaseKey, list[ClinicalSignal]]:
        wanted = set(cases)
        live: dict[CaseKey, list[ClinicalSignal]] = {}
        for s in self.signals.values():
            if (s.clinic_id, s.case_id) in wanted and s.event_id not in self.withdrawn:
                live.setdefault((s.clinic_id, s.case_id), []).append(s)
        return live


@dataclass
class FakeRouting:
    assigned: dict[CaseKey, tuple[str, bool]] = field(default_factory=dict)  # (therapist, explicit)
    staff: dict[tuple[str, str], tuple[StaffRole, bool]] = field(default_factory=dict)

    async def therapists(self, cases: Iterable[CaseKey]) -> dict[CaseKey, str]:
        return {c: self.assigned[c][0] for c in cases if c in self.assigned}

    async def observe(self, seen: dict[CaseKey, str]) -> None:
        for case, therapist in seen.items():
            if not self.assigned.get(case, ("", False))[1]:
                self.assigned[case] = (therapist, False)

    async def assign(self, events: Sequence[CaseAssigned]) -> None:
        for e in events:
            self.assigned[(e.clinic_id, e.case_id)] = (e.payload.therapist_id, True)

    async def save_staff(self, events: Sequence[StaffChanged]) -> None:
        for e in events:
            self.staff[(e.clinic_id, e.payload.staff_id)] = (e.payload.role, e.payload.active)

    async def supervisors(self, clinic_ids: Iterable[str]) -> dict[str, list[str]]:
        clinics = set(clinic_ids)
        found: dict[str, list[str]] = {}
        for (clinic, staff_id), (role, active) in sorted(self.staff.items()):
            if clinic in clinics and role is StaffRole.SUPERVISOR and active:
                found.setdefault(clinic, []).append(staff_id)
        return found


@dataclass
class FakeParkedCommands:
    commands: dict[uuid.UUID, AlertInput] = field(default_factory=dict)

    async def park(self, commands: Sequence[AlertInput]) -> None:
        for c in commands:
            self.commands.setdefault(c.event_id, c)

    async def take(self, alert_ids: Iterable[uuid.UUID]) -> list[AlertInput]:
        wanted = set(alert_ids)
        taken = [c for c in self.commands.values() if c.payload.alert_id in wanted]
        for c in taken:
            del self.commands[c.event_id]
        return sorted(taken, key=lambda c: (c.occurred_at, str(c.event_id)))


@dataclass
class Endpoint:
    url: str
    active: bool
    sealed: Sealed
    previous: Sealed | None = None
    previous_valid_until: datetime | None = None


@dataclass
class FakeDeliveries:
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    queued: dict[tuple[Any, str], tuple[Any, ...]] = field(default_factory=dict)

    async def active_endpoints(self, clinic_ids: Sequence[str]) -> dict[str, str]:
        return {c: e.url for c, e in self.endpoints.items() if c in clinic_ids and e.active}

    async def queue(self, rows: Sequence[tuple[Any, ...]]) -> None:
        for row in rows:
            self.queued.setdefault((row[0], row[1]), row)

    async def lease(self, now: datetime, lease_end: datetime, limit: int) -> list[Any]:
        raise NotImplementedError("sending is HTTP: tests/integration/test_webhooks.py")

    async def record(
        self, results: Sequence[tuple[Any, str, Outcome]], now: datetime, lease_end: datetime
    ) -> None:
        raise NotImplementedError("sending is HTTP: tests/integration/test_webhooks.py")

    async def upsert_endpoint(self, clinic_id: str, url: str, active: bool, sealed: Sealed) -> bool:
        known = self.endpoints.get(clinic_id)
        if known is not None:
            known.url, known.active = url, active
            return False
        self.endpoints[clinic_id] = Endpoint(url, active, sealed)
        return True

    async def rotate(self, clinic_id: str, sealed: Sealed, now: datetime, until: datetime) -> bool:
        known = self.endpoints.get(clinic_id)
        if known is None:
            return False
        if known.previous_valid_until is not None and known.previous_valid_until > now:
            raise RotationInProgress(known.previous_valid_until)
        known.previous, known.previous_valid_until, known.sealed = known.sealed, until, sealed
        return True


class FakeAlertsUnitOfWork(FakeUnitOfWork):
    repositories: ClassVar[tuple[str, ...]] = (
        "outbox",
        "processed",
        "configurations",
        "alerts",
        "routing",
        "parked",
        "signals",
        "deliveries",
    )

    def __init__(self) -> None:
        super().__init__()
        self.processed = FakeProcessedEvents()
        self.configurations = FakeConfigurationVersions()
        self.alerts = FakeAlerts()
        self.routing = FakeRouting()
        self.parked = FakeParkedCommands()
        self.signals = FakeCaseSignals()
        self.deliveries = FakeDeliveries()
