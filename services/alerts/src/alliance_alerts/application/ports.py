"""What the alerts service's use cases need from storage, as protocols: `adapters/` implements
them over PostgreSQL, the unit tests in memory."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from alliance_alerts.adapters.secret_box import Sealed
from alliance_alerts.domain.rules import Alert, AlertInput, Key
from alliance_alerts.domain.webhooks import Outcome
from alliance_contracts.events import (
    CaseAssigned,
    ClinicalSignal,
    SignalWithdrawn,
    StaffChanged,
)
from alliance_platform.unit_of_work import (
    ConfigurationVersions,
    Outbox,
    ProcessedEvents,
    UnitOfWork,
)

# A case is (clinic id, case id): case ids are unique only within a clinic.
CaseKey = tuple[str, str]


class Alerts(Protocol):
    """Every alert with its history of transitions."""

    async def active(self, cases: Iterable[CaseKey]) -> dict[CaseKey, dict[Key, Alert]]:
        """Per case, its active (not resolved) alerts by (kind, subject)."""
        ...

    async def by_id(self, alert_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Alert]:
        """The alerts that exist among them. The ids, raised or not, are locked until the
        transaction ends (so is `ParkedCommands.take`'s): an input parked for an alert being
        raised meanwhile is taken when it is raised."""
        ...

    async def due(self, now: datetime, limit: int) -> list[Alert]:
        """Open alerts not escalated whose escalation time has come, soonest first (locked;
        those another transaction holds are skipped)."""
        ...

    async def save(self, alerts: Sequence[Alert]) -> None:
        """Stores the alerts and the transitions of their history not stored yet."""
        ...


class Routing(Protocol):
    """Who receives a case's alerts: its therapist, and the clinic's supervisors."""

    async def therapists(self, cases: Iterable[CaseKey]) -> dict[CaseKey, str]: ...

    async def observe(self, seen: dict[CaseKey, str]) -> None:
        """Cases without an explicit assignment go to the therapist last seen rating them."""
        ...

    async def assign(self, events: Sequence[CaseAssigned]) -> None: ...

    async def save_staff(self, events: Sequence[StaffChanged]) -> None: ...

    async def supervisors(self, clinic_ids: Iterable[str]) -> dict[str, list[str]]:
        """Per clinic, its active supervisors in id order."""
        ...


class CaseSignals(Protocol):
    """Every clinical signal a case received, and which scoring withdrew."""

    async def add(self, signals: Sequence[ClinicalSignal]) -> None: ...

    async def withdraw(self, withdrawn: Sequence[SignalWithdrawn]) -> None: ...

    async def live(self, cases: Iterable[CaseKey]) -> dict[CaseKey, list[ClinicalSignal]]:
        """Per case, its signals not withdrawn."""
        ...

    async def latest(self, cases: Iterable[CaseKey]) -> dict[CaseKey, datetime]:
        """Per case that has signals, the event time of its latest."""
        ...


class ParkedCommands(Protocol):
    """Users' commands and the clock's recorded escalations for alerts not raised yet (they
    overtook the signal: the topics are not ordered with each other)."""

    async def park(self, commands: Sequence[AlertInput]) -> None: ...

    async def take(self, alert_ids: Iterable[uuid.UUID]) -> list[AlertInput]:
        """Removes and returns the inputs parked for these alerts, oldest first (the ids are
        locked until the transaction ends, as by `Alerts.by_id`)."""
        ...


class Deliveries(Protocol):
    """Each clinic's webhook endpoint (its sealed secrets) and the deliveries of notices to it.
    A leased delivery is a row: its id, notice id, clinic, body and attempts, the endpoint's
    url and sealed secrets."""

    async def active_endpoints(self, clinic_ids: Sequence[str]) -> dict[str, str]:
        """Per clinic with an active endpoint, its url."""
        ...

    async def queue(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """(notice id, clinic, url, body, due): at most once per notice and clinic."""
        ...

    async def lease(self, now: datetime, lease_end: datetime, limit: int) -> list[Any]:
        """The due deliveries of active endpoints; their next attempt moves to `lease_end`."""
        ...

    async def record(
        self, results: Sequence[tuple[Any, str, Outcome]], now: datetime, lease_end: datetime
    ) -> None:
        """Each attempt's result while the lease is still ours; dead ones are dead-lettered."""
        ...

    async def upsert_endpoint(self, clinic_id: str, url: str, active: bool, sealed: Sealed) -> bool:
        """True when the endpoint is new (`sealed` is stored); an existing one keeps its secret."""
        ...

    async def rotate(self, clinic_id: str, sealed: Sealed, now: datetime, until: datetime) -> bool:
        """`sealed` becomes the current secret, the current one the previous until `until`.
        False without an endpoint; RotationInProgress while a changeover lasts."""
        ...


class DeliveryUnitOfWork(UnitOfWork, Protocol):
    """Webhook endpoints and deliveries: a system of record beside the projection."""

    @property
    def deliveries(self) -> Deliveries: ...


class AlertsUnitOfWork(UnitOfWork, Protocol):
    @property
    def processed(self) -> ProcessedEvents: ...

    @property
    def configurations(self) -> ConfigurationVersions: ...

    @property
    def alerts(self) -> Alerts: ...

    @property
    def routing(self) -> Routing: ...

    @property
    def parked(self) -> ParkedCommands: ...

    @property
    def signals(self) -> CaseSignals: ...

    @property
    def outbox(self) -> Outbox: ...
