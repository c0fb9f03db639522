"""The generic part: a transaction is a snapshot of the repositories, put back when the unit of
work is left without a commit; the outbox, processed-event ids and configuration versions."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

from alliance_contracts.clinical_config import ClinicalConfig, ConfigVersion
from alliance_contracts.events import ClinicConfigured, EventEnvelope
from alliance_platform.config_store import Resolve, latest_stamps, resolver
from alliance_platform.outbox import OutboxMessage

E = TypeVar("E", bound=EventEnvelope)


class FakeUnitOfWork:
    """Counts its transactions and commits; `repositories` names the attributes it snapshots."""

    repositories: ClassVar[tuple[str, ...]] = ("outbox",)

    def __init__(self) -> None:
        self.outbox = FakeOutbox()
        self.transactions = 0
        self.commits = 0
        self._snapshot: dict[str, Any] | None = None

    async def __aenter__(self) -> Self:
        assert self._snapshot is None, "a unit of work is one transaction at a time"
        self.transactions += 1
        self._snapshot = {name: copy.deepcopy(getattr(self, name)) for name in self.repositories}
        return self

    async def commit(self) -> None:
        assert self._snapshot is not None, "commit outside `async with`"
        self.commits += 1
        self._snapshot = {name: copy.deepcopy(getattr(self, name)) for name in self.repositories}

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._snapshot is not None
        for name, saved in self._snapshot.items():  # what was not committed is undone
            setattr(self, name, saved)
        self._snapshot = None


@dataclass
class FakeOutbox:
    messages: list[OutboxMessage] = field(default_factory=list)

    async def add(self, messages: Sequence[OutboxMessage]) -> None:
        self.messages.extend(messages)

    def events(self) -> list[EventEnvelope]:
        return [m.event for m in self.messages]


@dataclass
class FakeProcessedEvents:
    ids: set[uuid.UUID] = field(default_factory=set)
    to_commit: bool = False  # an untracked consumer's: nothing but the ids

    async def claim(self, events: Sequence[E]) -> list[E]:
        fresh = []
        for event in events:
            if event.event_id not in self.ids:
                self.ids.add(event.event_id)
                fresh.append(event)
        return fresh


@dataclass
class FakeConfigurationVersions:
    versions: dict[str, list[ConfigVersion]] = field(default_factory=dict)

    async def save(self, events: Sequence[ClinicConfigured]) -> None:
        for e in events:
            known = self.versions.setdefault(e.clinic_id, [])
            if all(v.version != e.payload.version for v in known):
                config = ClinicalConfig.model_validate(e.payload.configuration)
                known.append(ConfigVersion(e.payload.version, e.payload.effective_from, config))
                known.sort(key=lambda v: v.version)

    async def resolver(self, stamps: Iterable[tuple[str, int]]) -> Resolve:
        stamped = latest_stamps(stamps)
        return resolver(stamped, {c: self.versions[c] for c in stamped if c in self.versions})
