"""What intake's use cases need from storage, as protocols: `adapters/` implements them over
PostgreSQL, the unit tests in memory."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple, Protocol

from alliance_contracts.clinical_config import ClinicalConfig
from alliance_contracts.events import ClinicConfigured
from alliance_intake.domain.correction import Correction, ResponseRecord
from alliance_intake.domain.submission import Accepted
from alliance_platform.outbox import OutboxMessage
from alliance_platform.unit_of_work import Outbox, UnitOfWork


class Recorded(NamedTuple):
    """What was first accepted under an idempotency key."""

    event_id: uuid.UUID
    fingerprint: str


class StaleConfiguration(NamedTuple):
    """Nothing was recorded: the event was stamped with a configuration version that is no
    longer the clinic's latest (`latest` is)."""

    latest: int


class CurrentConfiguration(NamedTuple):
    """A clinic's latest configuration version (0 and the defaults when it has none)."""

    version: int
    config: ClinicalConfig
    effective_from: datetime | None


class Submissions(Protocol):
    """Every accepted submission, one per (clinic, idempotency key)."""

    async def record(
        self, clinic_id: str, key: str, accepted: Accepted, message: OutboxMessage
    ) -> Recorded:
        """Records it with its outbox row unless the clinic used the key before (then nothing
        changes). Returns what the key holds now: this submission's event id when it was
        recorded, else the earlier one's with its fingerprint."""
        ...


class ResponseRecords(Protocol):
    """Accepted responses with their corrections, oldest first: the audit trail of each."""

    async def by_key(
        self, clinic_id: str, key: str, *, lock: bool = False
    ) -> ResponseRecord | None:
        """The response.submitted accepted under the key; `lock` serialises its corrections
        until the transaction ends."""
        ...

    async def by_event_id(
        self, clinic_id: str, event_id: uuid.UUID, *, lock: bool = False
    ) -> ResponseRecord | None: ...

    async def add_correction(self, correction: Correction, request_id: str | None) -> None:
        """Records it, with the gateway request that asked for it when there is one."""
        ...

    async def requested(self, request_id: str) -> uuid.UUID | None:
        """The correction made for that gateway request, if it was applied before."""
        ...


class ClinicConfigurations(Protocol):
    """Every version of every clinic's configuration."""

    async def lock(self, clinic_id: str) -> None:
        """Serialises the clinic's configuration changes until the transaction ends."""
        ...

    async def current(self, clinic_id: str) -> CurrentConfiguration: ...

    async def add(self, event: ClinicConfigured) -> None: ...


class IntakeUnitOfWork(UnitOfWork, Protocol):
    @property
    def submissions(self) -> Submissions: ...

    @property
    def configurations(self) -> ClinicConfigurations: ...

    @property
    def responses(self) -> ResponseRecords: ...

    @property
    def outbox(self) -> Outbox: ...

    async def record_alone(
        self,
        clinic_id: str,
        key: str,
        accepted: Accepted,
        message: OutboxMessage,
        config_version: int | None,
    ) -> Recorded | StaleConfiguration:
        """`submissions.record` as a transaction of its own, used outside `async with` (over
        PostgreSQL one atomic statement, committed when it returns: decision 0019). Records
        nothing and returns StaleConfiguration when `config_version`, the version the event is
        stamped with, is not the clinic's latest (None: an event without one, not checked)."""
        ...
