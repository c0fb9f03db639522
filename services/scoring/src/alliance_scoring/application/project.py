"""Use cases: fold a batch of case events into the case projections, in one transaction;
record clinic configuration versions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import asyncpg

from alliance_scoring.adapters.store import (
    insert_scores,
    insert_signals,
    load_cases,
    load_configurations,
    save_cases,
    save_configurations,
)
from alliance_scoring.adapters.tables import SCHEMA
from alliance_scoring.domain.case import apply, decide, new_case
from alliance_scoring.domain.configuration import in_force
from alliance_scoring.domain.dyads import score
from alliance_shared.clinical_config import DEFAULT_CONFIG, ClinicalConfig
from alliance_shared.consumer import RetryLater
from alliance_shared.events import (
    CaseInput,
    ClinicalSignal,
    ClinicConfigured,
    EventEnvelope,
    ResponseScored,
    ResponseSubmitted,
)
from alliance_shared.outbox import Connection, OutboxMessage, claim_new_events, enqueue
from alliance_shared.topics import SCORED


class ConfigurationNotYetKnown(RetryLater):
    """A response names a configuration version the config topic has not delivered yet."""


async def record_configurations(pool: asyncpg.Pool, events: Sequence[ClinicConfigured]) -> int:
    async with pool.acquire() as conn, conn.transaction():
        fresh = await claim_new_events(conn, SCHEMA, events)
        await save_configurations(conn, fresh)
    return len(fresh)


async def _configurations(
    conn: Connection, events: Sequence[CaseInput]
) -> Callable[[CaseInput], ClinicalConfig]:
    stamped = {e.clinic_id: 0 for e in events}
    for e in events:
        if isinstance(e, ResponseSubmitted):
            stamped[e.clinic_id] = max(stamped[e.clinic_id], e.config_version)
    needed = [clinic for clinic, version in stamped.items() if version > 0]
    versions = await load_configurations(conn, needed) if needed else {}
    for clinic in needed:
        known = max((v.version for v in versions.get(clinic, [])), default=0)
        if known < stamped[clinic]:
            raise ConfigurationNotYetKnown(f"{clinic}: version {stamped[clinic]}, known {known}")

    def config_for(event: CaseInput) -> ClinicalConfig:
        if not isinstance(event, ResponseSubmitted):
            return DEFAULT_CONFIG
        return in_force(
            versions.get(event.clinic_id, []), event.config_version, event.payload.administered_at
        )

    return config_for


async def project_batch(
    pool: asyncpg.Pool, events: Sequence[CaseInput], now: Callable[[], datetime]
) -> int:
    """Scores the new events of the batch and folds them into their cases, publishing the
    scored responses and the derived signals. Events already processed (redeliveries) change
    nothing. Returns the number of new events."""
    recorded_at = now()
    async with pool.acquire() as conn, conn.transaction():
        fresh = await claim_new_events(conn, SCHEMA, events)
        if not fresh:
            return 0
        config_for = await _configurations(conn, fresh)
        cases = await load_cases(conn, {e.case_id for e in fresh})
        scored: list[ResponseScored] = []
        signals: list[ClinicalSignal] = []
        published: list[EventEnvelope] = []  # each score followed by the signals it caused
        for event in fresh:  # in partition order: each case's events in their order
            before = cases.get(event.case_id) or new_case(event.clinic_id, event.case_id)
            config = config_for(event)
            result = score(event, recorded_at) if isinstance(event, ResponseSubmitted) else None
            after = apply(before, event, result, config)
            cases[event.case_id] = after
            derived = decide(before, after, event, result, config)
            if result is not None:
                scored.append(result)
                published.append(result)
            signals.extend(derived)
            published.extend(derived)
        await save_cases(conn, cases.values(), recorded_at)
        await insert_scores(conn, scored)
        await insert_signals(conn, signals)
        await enqueue(conn, SCHEMA, [OutboxMessage(SCORED.name, e.case_id, e) for e in published])
    return len(fresh)
