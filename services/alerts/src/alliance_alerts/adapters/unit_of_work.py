"""The alerts service's unit of work over PostgreSQL: one pooled connection and transaction per
batch (or escalation round), the repositories over the statements of `store.py`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from alliance_alerts.adapters import delivery_store, store
from alliance_alerts.adapters.delivery_tables import DELIVERY_SCHEMA
from alliance_alerts.adapters.secret_box import Sealed
from alliance_alerts.application.ports import CaseKey
from alliance_alerts.domain.rules import Alert, AlertInput, Key
from alliance_alerts.domain.webhooks import Outcome
from alliance_contracts.events import (
    AlertCommand,
    CaseAssigned,
    ClinicalSignal,
    EscalationDue,
    SignalWithdrawn,
    StaffChanged,
)
from alliance_platform.outbox import Connection
from alliance_platform.unit_of_work import (
    PostgresConfigurationVersions,
    PostgresProcessedEvents,
    PostgresUnitOfWork,
)


class PostgresAlerts:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def active(self, cases: Iterable[CaseKey]) -> dict[CaseKey, dict[Key, Alert]]:
        return await store.active_alerts(self.conn, cases)

    async def by_id(self, alert_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Alert]:
        return await store.alerts_by_id(self.conn, alert_ids)

    async def due(self, now: datetime, limit: int) -> list[Alert]:
        return await store.due_alerts(self.conn, now, limit)

    async def save(self, alerts: Sequence[Alert]) -> None:
        await store.save_alerts(self.conn, alerts)


class PostgresRouting:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def therapists(self, cases: Iterable[CaseKey]) -> dict[CaseKey, str]:
        return await store.therapists(self.conn, cases)

    async def observe(self, seen: dict[CaseKey, str]) -> None:
        await store.observe_therapists(self.conn, seen)

    async def assign(self, events: Sequence[CaseAssigned]) -> None:
        await store.assign(self.conn, events)

    async def save_staff(self, events: Sequence[StaffChanged]) -> None:
        await store.save_staff(self.conn, events)

    async def supervisors(self, clinic_ids: Iterable[str]) -> dict[str, list[str]]:
        return await store.supervisors(self.conn, clinic_ids)


class PostgresParkedCommands:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def park(self, commands: Sequence[AlertInput]) -> None:
        await store.park_commands(self.conn, commands)

    async def take(self, alert_ids: Iterable[uuid.UUID]) -> list[AlertInput]:
        return await store.take_parked(self.conn, alert_ids)


class AlertsRaised:
    """What users' commands and the clock's escalations wait for (`tracking.Waits`): their
    alert, as `alert:<id>` (they can overtake the signal that raises it: the topics are not
    ordered together)."""

    def needs(self, event: Any) -> str | None:
        waits = isinstance(event, AlertCommand | EscalationDue)
        return f"alert:{event.payload.alert_id}" if waits else None

    async def missing(self, conn: Connection, schema: str, needs: set[str]) -> set[str]:
        wanted = {uuid.UUID(need.removeprefix("alert:")): need for need in needs}
        rows = await conn.fetch(
            f"SELECT alert_id FROM {schema}.alert WHERE alert_id = ANY($1::uuid[])", list(wanted)
        )
        return set(wanted.values()) - {wanted[r["alert_id"]] for r in rows}


class PostgresDeliveries:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def active_endpoints(self, clinic_ids: Sequence[str]) -> dict[str, str]:
        return await delivery_store.active_endpoints(self.conn, clinic_ids)

    async def queue(self, rows: Sequence[tuple[Any, ...]]) -> None:
        await delivery_store.queue(self.conn, rows)

    async def lease(self, now: datetime, lease_end: datetime, limit: int) -> list[Any]:
        return await delivery_store.lease_due(self.conn, now, lease_end, limit)

    async def record(
        self, results: Sequence[tuple[Any, str, Outcome]], now: datetime, lease_end: datetime
    ) -> None:
        await delivery_store.record(self.conn, results, now, lease_end)

    async def upsert_endpoint(self, clinic_id: str, url: str, active: bool, sealed: Sealed) -> bool:
        return await delivery_store.upsert_endpoint(self.conn, clinic_id, url, active, sealed)

    async def rotate(self, clinic_id: str, sealed: Sealed, now: datetime, until: datetime) -> bool:
        return await delivery_store.rotate(self.conn, clinic_id, sealed, now, until)


class PostgresCaseSignals:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def add(self, signals: Sequence[ClinicalSignal]) -> None:
        await store.add_case_signals(self.conn, signals)

    async def withdraw(self, withdrawn: Sequence[SignalWithdrawn]) -> None:
        await store.withdraw_case_signals(self.conn, withdrawn)

    async def live(self, cases: Iterable[CaseKey]) -> dict[CaseKey, list[ClinicalSignal]]:
        return await store.live_case_signals(self.conn, cases)

    async def latest(self, cases: Iterable[CaseKey]) -> dict[CaseKey, datetime]:
        return await store.latest_case_signals(self.conn, cases)


class PostgresAlertsUnitOfWork(PostgresUnitOfWork):
    processed: PostgresProcessedEvents
    configurations: PostgresConfigurationVersions
    alerts: PostgresAlerts
    routing: PostgresRouting
    parked: PostgresParkedCommands
    signals: PostgresCaseSignals

    def bind(self, conn: Connection) -> None:
        self.processed = PostgresProcessedEvents(conn, self.schema, self.consumed)
        self.configurations = PostgresConfigurationVersions(conn, self.schema)
        self.alerts = PostgresAlerts(conn)
        self.routing = PostgresRouting(conn)
        self.parked = PostgresParkedCommands(conn)
        self.signals = PostgresCaseSignals(conn)


class PostgresDeliveryUnitOfWork(PostgresUnitOfWork):
    """Webhook endpoints and deliveries (`alerts_delivery`, never rebuilt), with its own outbox
    (deliveries that failed for good go to the dead-letter topic through it)."""

    deliveries: PostgresDeliveries

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool, DELIVERY_SCHEMA)

    def bind(self, conn: Connection) -> None:
        self.deliveries = PostgresDeliveries(conn)
