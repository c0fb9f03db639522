"""Use cases: fold a batch of case events into the case projections, in one transaction;
record clinic configuration versions (see `ports.ScoringUnitOfWork`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from alliance_contracts.clinical_config import DEFAULT_CONFIG
from alliance_contracts.events import (
    CaseInput,
    ClinicalSignal,
    ClinicConfigured,
    ClinicInput,
    EventEnvelope,
    ResponseScored,
    ResponseSubmitted,
)
from alliance_contracts.topics import SCORED
from alliance_platform.outbox import OutboxMessage
from alliance_scoring.application.ports import ScoringUnitOfWork
from alliance_scoring.domain.case import apply, decide, new_case
from alliance_scoring.domain.dyads import score


async def record_configurations(uow: ScoringUnitOfWork, events: Sequence[ClinicInput]) -> int:
    async with uow:
        fresh = await uow.processed.claim(events)
        # Rosters and assignments on the config topic are the alerts service's business.
        await uow.configurations.save([e for e in fresh if isinstance(e, ClinicConfigured)])
        await uow.commit()
    return len(fresh)


async def project_batch(
    uow: ScoringUnitOfWork, events: Sequence[CaseInput], now: Callable[[], datetime]
) -> int:
    """Scores the new events of the batch and folds them into their cases, publishing the
    scored responses and the derived signals. Events already processed (redeliveries) change
    nothing. Returns the number of new events."""
    recorded_at = now()
    async with uow:
        fresh = await uow.processed.claim(events)
        if not fresh:
            return 0  # all seen before: nothing to commit
        resolve = await uow.configurations.resolver(
            [(e.clinic_id, e.config_version) for e in fresh if isinstance(e, ResponseSubmitted)]
        )
        cases = await uow.cases.get({(e.clinic_id, e.case_id) for e in fresh})
        scored: list[ResponseScored] = []
        signals: list[ClinicalSignal] = []
        published: list[EventEnvelope] = []  # each score followed by the signals it caused
        for event in fresh:  # in partition order: each case's events in their order
            key = (event.clinic_id, event.case_id)
            before = cases.get(key) or new_case(event.clinic_id, event.case_id)
            config = (
                resolve(event.clinic_id, event.config_version, event.payload.administered_at)
                if isinstance(event, ResponseSubmitted)
                else DEFAULT_CONFIG
            )
            # Scored events keep the response's recorded time: a replay reproduces them exactly.
            result = (
                score(event, event.recorded_at) if isinstance(event, ResponseSubmitted) else None
            )
            after = apply(before, event, result, config)
            cases[key] = after
            derived = decide(before, after, event, result, config)
            if result is not None:
                scored.append(result)
                published.append(result)
            signals.extend(derived)
            published.extend(derived)
        await uow.cases.save(cases.values(), recorded_at)
        await uow.scores.add(scored)
        await uow.signals.add(signals)
        await uow.outbox.add([OutboxMessage(SCORED, e) for e in published])
        await uow.commit()
    return len(fresh)
